/* people_synth.h - synthetic face templates for the people clustering's test and benchmark
 * (tests/test_people.c, bench/people.c): identities x images of unit vectors whose same-person
 * and different-person cosines resemble real embeddings'.
 *
 * Each identity has a centre, a random unit vector in the first SYNTH_CENTRE_DIM coordinates
 * (random unit vectors in d dimensions have cosines of standard deviation 1/sqrt(d): 88
 * dimensions give LFW's impostor spread, about 0.1, where 512 would give 0.044). A face is its
 * centre plus Gaussian noise of `noise` per coordinate over all 512, normalised: two faces of one
 * identity then have a cosine near 1 / (1 + noise^2 * 512), which sets the genuine mean. */
#ifndef MIEN_TESTS_PEOPLE_SYNTH_H
#define MIEN_TESTS_PEOPLE_SYNTH_H

#include <math.h>
#include <stdlib.h>

#include "face/face.h"

#define SYNTH_CENTRE_DIM 88

static double synth_gauss(unsigned short seed[3]) {
  double r = sqrt(-2 * log(1 - erand48(seed))), t = 2 * M_PI * erand48(seed);
  return r * cos(t);
}

static void synth_normalise(float *v) {
  double n2 = 0;
  for (int i = 0; i < MIEN_EMBED_DIM; i++) n2 += (double)v[i] * v[i];
  for (int i = 0; i < MIEN_EMBED_DIM; i++) v[i] = (float)(v[i] / sqrt(n2));
}

/* The centre of an identity. */
static void synth_centre(unsigned short seed[3], float *c) {
  for (int i = 0; i < MIEN_EMBED_DIM; i++)
    c[i] = i < SYNTH_CENTRE_DIM ? (float)synth_gauss(seed) : 0;
  synth_normalise(c);
}

/* One face of the identity with centre c. */
static void synth_face(unsigned short seed[3], const float *c, double noise, float *v) {
  for (int i = 0; i < MIEN_EMBED_DIM; i++) v[i] = (float)(c[i] + noise * synth_gauss(seed));
  synth_normalise(v);
}

/* The noise that gives a genuine cosine mean of `mean`. */
static double synth_noise_for(double mean) {
  return sqrt((1 / mean - 1) / MIEN_EMBED_DIM);
}

#endif
