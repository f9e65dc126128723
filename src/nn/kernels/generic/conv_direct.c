/* generic/conv_direct.c - portable direct dense convolution: conv_direct_impl.h over GCC vector
 * extensions of 4 floats (SSE on x86-64, NEON elsewhere), blocks of 4 output channels x 8
 * pixels. */
#include <string.h>

#include "nn/kernels/kernels_generic.h"

typedef float V __attribute__((vector_size(16)));
#define VW 4
#define DC_CB 4
#define DC_PV 2
#define MIEN_DIRECT_NAME mien_conv_direct_generic

static inline V v_load(const float *p) {
  V v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void v_store(float *p, V v) {
  memcpy(p, &v, sizeof v);
}
static inline V v_loadn(const float *p, int n) {
  V v = {0};
  for (int i = 0; i < n && i < VW; i++) v[i] = p[i];
  return v;
}
static inline void v_storen(float *p, V v, int n) {
  for (int i = 0; i < n && i < VW; i++) p[i] = v[i];
}
static inline V v_set1(float x) {
  return (V){x, x, x, x};
}
#define v_zero() v_set1(0.0f)
#define v_add(a, b) ((a) + (b))
#define v_fmadd(a, b, c) ((a) * (b) + (c))
static inline V v_act(V v, mien_act act, const float *slope, int m) {
  mien_epilogue ep = {NULL, NULL, slope, act};
  for (int i = 0; i < VW; i++) v[i] = mien_act1(&ep, m, v[i]);
  return v;
}
static inline void v_deinterleave(const float *src, float *e, float *o) {
  for (int i = 0; i < VW; i++) e[i] = src[2 * i], o[i] = src[2 * i + 1];
}

#include "nn/kernels/conv_direct_impl.h"
