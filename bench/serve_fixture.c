/* serve_fixture.c - the inputs of bench/serve.sh and bench/cluster.sh that no mien command makes.
 *
 *   serve_fixture jpeg IN OUT W H        IN (JPEG or PNG) resampled to exactly W x H, as a
 *                                        quality-90 JPEG: the "640x480 JPEG" of the benchmark
 *   serve_fixture fill STORE COLLECTION N  creates COLLECTION in the store at STORE (a data
 *                                        directory or a postgresql:// URL) holding N synthetic
 *                                        faces
 *
 * Indexing 100k real faces through IndexFaces would take most of an hour, and a search's cost
 * does not depend on where its templates came from, so `fill` writes random unit vectors through
 * the store API: the same rows, model version and index the server loads, batched 1000 faces to
 * an "image" (one durable transaction each) so the 100k go in seconds. A real face searched
 * against them scores near 0 with every one, like a stranger among strangers.
 *
 * Built as mien-bench-fixture on the static library (it uses the store's internal API, which the
 * shared library does not export). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "image_helpers.h" /* tests/: encode_jpeg */
#include "store/store.h"
#include "util/util.h"

#define BATCH 1000

static int jpeg(const char *in, const char *out, int w, int h) {
  size_t len;
  uint8_t *buf = mien_read_file(in, &len);
  mien_image src = {0}, dst = {w, h, malloc((size_t)w * h * 3)};
  float *planes = malloc((size_t)w * h * 3 * sizeof *planes);
  char err[256] = "out of memory";
  int ok = buf && dst.rgb && planes &&
           mien_image_decode(buf, len, NULL, 0, &src, NULL, err, sizeof err) == MIEN_IMG_OK &&
           mien_image_resize_to_tensor(&src, 0, 0, src.w, src.h, w, h, 0, 1, 0, 0, planes) ==
               MIEN_IMG_OK;
  size_t n = 0;
  uint8_t *jpg = NULL;
  if (ok) {
    for (size_t i = 0, px = (size_t)w * h; i < px; i++)
      for (int c = 0; c < 3; c++) {
        float v = planes[c * px + i] + 0.5f;
        dst.rgb[i * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    jpg = encode_jpeg(&dst, 90, &n);
    FILE *f = fopen(out, "wb");
    ok = jpg && f && fwrite(jpg, 1, n, f) == n;
    if (f && fclose(f)) ok = 0;
    if (!ok) snprintf(err, sizeof err, "cannot write %s", out);
  }
  if (!ok) fprintf(stderr, "serve_fixture: %s: %s\n", in, err);
  free(buf), free(planes), free(jpg), free(dst.rgb);
  mien_image_free(&src);
  return ok ? 0 : 1;
}

/* A uniformly random unit vector: normalised Gaussian coordinates (Box-Muller). */
static void unit_vector(unsigned short seed[3], float *v) {
  double n2 = 0;
  for (int i = 0; i < MIEN_TEMPLATE_DIM; i += 2) {
    double r = sqrt(-2 * log(1 - erand48(seed))), t = 2 * M_PI * erand48(seed);
    v[i] = (float)(r * cos(t));
    v[i + 1] = (float)(r * sin(t));
    n2 += (double)v[i] * v[i] + (double)v[i + 1] * v[i + 1];
  }
  for (int i = 0; i < MIEN_TEMPLATE_DIM; i++) v[i] = (float)(v[i] / sqrt(n2));
}

static int fill(const char *dir, const char *coll, long n) {
  char err[512];
  mien_store *s = NULL;
  mien_collection_info info;
  mien_status st = mien_store_open(dir, &s, err, sizeof err);
  if (st == MIEN_OK)
    st = mien_store_create_collection(s, "bench", coll, NULL, &info, err, sizeof err);
  float *emb = malloc((size_t)BATCH * MIEN_TEMPLATE_DIM * sizeof *emb);
  mien_new_face *faces = malloc(BATCH * sizeof *faces);
  char(*ids)[MIEN_UUID_LEN] = malloc(BATCH * sizeof *ids), image_id[MIEN_UUID_LEN];
  unsigned short seed[3] = {0x5eed, 0x100, 0x6b};
  if (!emb || !faces || !ids) st = MIEN_FAIL(err, sizeof err, MIEN_ERR_INTERNAL, "out of memory");
  double t0 = mien_now_ms();
  for (long b = 0; st == MIEN_OK && b < n; b += BATCH) {
    int m = n - b < BATCH ? (int)(n - b) : BATCH;
    for (int i = 0; i < m; i++) {
      faces[i] =
          (mien_new_face){0.25f, 0.25f, 0.5f, 0.5f, 99.9f, emb + (size_t)i * MIEN_TEMPLATE_DIM};
      unit_vector(seed, emb + (size_t)i * MIEN_TEMPLATE_DIM);
    }
    uint8_t sha[32];
    mien_sha256(&b, sizeof b, sha); /* a distinct "image" per batch */
    st =
        mien_store_index_image(s, coll, sha, "synthetic", faces, m, image_id, ids, err, sizeof err);
  }
  if (st == MIEN_OK)
    fprintf(stderr, "serve_fixture: %ld faces into %s/%s in %.1f s\n", n, dir, coll,
            (mien_now_ms() - t0) / 1e3);
  else
    fprintf(stderr, "serve_fixture: %s: %s\n", mien_status_name(st), err);
  free(emb), free(faces), free(ids);
  mien_store_close(s);
  return st == MIEN_OK ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "jpeg"))
    return jpeg(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
  if (argc == 5 && !strcmp(argv[1], "fill")) return fill(argv[2], argv[3], atol(argv[4]));
  fprintf(stderr, "usage: serve_fixture jpeg IN OUT W H | fill STORE COLLECTION N\n");
  return 2;
}
