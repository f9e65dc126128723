/* test_image.c - src/image: decoding (JPEG, PNG, EXIF orientation, DCT scaling, hostile input),
 * the tensor resamplers against a double-precision reference, drawing and the PNG writer.
 * Every input is made here with libjpeg and libspng; only the real-photo case reads tests/data. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spng.h>

#include "check.h"
#include "image/image.h"
#include "image_helpers.h"
#include "util/util.h"

/* ---- helpers: inputs ---- */

/* Deterministic xorshift, so failures reproduce. */
static uint32_t rng_state = 2463534242u;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* A smooth RGB pattern (JPEG keeps it nearly exact) that looks different under every flip. */
static mien_image pattern(int w, int h) {
  mien_image img = {w, h, malloc((size_t)3 * w * h)};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = img.rgb + 3 * ((size_t)w * y + x);
      p[0] = (uint8_t)(20 + 200 * x / w);
      p[1] = (uint8_t)(30 + 180 * y / h);
      p[2] = (uint8_t)(128 + 90 * sin(x / 9.0) * cos(y / 7.0));
    }
  return img;
}

typedef struct {
  int color_type, bit_depth, interlace;
  const struct spng_plte *plte;
  const struct spng_trns *trns;
  int exif_orientation; /* 0 = no eXIf chunk */
} png_spec;

/* Encodes raw PNG-layout pixels (16-bit samples host-endian) with libspng into memory. */
static uint8_t *encode_png(const void *pix, size_t pix_len, int w, int h, const png_spec *s,
                           size_t *len) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, (uint8_t)s->bit_depth, (uint8_t)s->color_type,
                           0,           0,           (uint8_t)s->interlace};
  uint8_t tiff[64];
  struct spng_exif exif = {make_tiff(tiff, s->exif_orientation, 1), (char *)tiff};
  int err = 0;
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_ihdr(ctx, &ihdr);
  if (s->plte) spng_set_plte(ctx, (struct spng_plte *)s->plte);
  if (s->trns) spng_set_trns(ctx, (struct spng_trns *)s->trns);
  if (s->exif_orientation) spng_set_exif(ctx, &exif);
  int rc = spng_encode_image(ctx, pix, pix_len, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  uint8_t *out = rc ? NULL : spng_get_png_buffer(ctx, len, &err);
  if (rc) fprintf(stderr, "spng encode: %s\n", spng_strerror(rc));
  spng_ctx_free(ctx);
  return out;
}

static uint8_t *encode_png_rgb(const mien_image *img, size_t *len) {
  png_spec s = {SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, NULL, 0};
  return encode_png(img->rgb, (size_t)3 * img->w * img->h, img->w, img->h, &s, len);
}

static mien_img_status decode(const uint8_t *buf, size_t len, int want, mien_image *out,
                              mien_image_info *info) {
  char err[256];
  mien_img_status st = mien_image_decode(buf, len, NULL, want, out, info, err, sizeof err);
  if (st != MIEN_IMG_OK) fprintf(stderr, "  decode: %s\n", err);
  return st;
}

static const uint8_t *px(const mien_image *img, int x, int y) {
  return img->rgb + 3 * ((size_t)img->w * y + x);
}

static int max_diff(const mien_image *a, const mien_image *b, double *mean) {
  int m = 0;
  double sum = 0;
  size_t n = (size_t)3 * a->w * a->h;
  for (size_t i = 0; i < n; i++) {
    int d = abs(a->rgb[i] - b->rgb[i]);
    sum += d;
    if (d > m) m = d;
  }
  if (mean) *mean = sum / (double)n;
  return m;
}

/* ---- decoding ---- */

static void test_real_photo(void) {
  char path[512];
  size_t len;
  uint8_t *buf = mien_read_file(test_data_path(path, sizeof path, "collins.jpg"), &len);
  CHECK_MSG(buf, "%s not found", path);
  if (!buf) return;
  mien_image img;
  mien_image_info info;
  CHECK(decode(buf, len, 0, &img, &info) == MIEN_IMG_OK);
  CHECK(img.w == 512 && img.h == 512);
  CHECK(info.format == MIEN_IMG_FORMAT_JPEG && info.orig_w == 512 && info.orig_h == 512);
  CHECK(info.scale == 1 && info.orientation == 1);
  double sum = 0;
  for (size_t i = 0; i < (size_t)3 * img.w * img.h; i++) sum += img.rgb[i];
  double mean = sum / (3.0 * img.w * img.h);
  CHECK_MSG(mean > 30 && mean < 230, "mean %g", mean);

  /* 512/4 = 128 keeps >= 100 while 512/8 would not. */
  mien_image quarter;
  CHECK(decode(buf, len, 100, &quarter, &info) == MIEN_IMG_OK);
  CHECK(quarter.w == 128 && quarter.h == 128 && info.scale == 4);
  CHECK(info.orig_w == 512 && info.orig_h == 512);
  mien_image_free(&quarter);
  mien_image_free(&img);
  free(buf);
}

static void test_gray_jpeg(void) {
  int w = 120, h = 96;
  uint8_t *g = malloc((size_t)w * h);
  for (int i = 0; i < w * h; i++) g[i] = (uint8_t)(40 + (i % w) + (i / w) / 2);
  size_t len;
  uint8_t *jpg = encode_jpeg_ex(g, w, h, JCS_GRAYSCALE, -1, 100, 0, 0, &len);
  mien_image img;
  CHECK(decode(jpg, len, 0, &img, NULL) == MIEN_IMG_OK);
  CHECK(img.w == w && img.h == h);
  int worst = 0;
  for (int i = 0; i < w * h && img.rgb; i++) {
    const uint8_t *p = img.rgb + 3 * i;
    CHECK(p[0] == p[1] && p[1] == p[2]);
    if (abs(p[0] - g[i]) > worst) worst = abs(p[0] - g[i]);
  }
  CHECK_MSG(worst <= 2, "gray differs by %d", worst);
  mien_image_free(&img);
  free(jpg);
  free(g);
}

/* Six flat 40x40 blocks in CMYK, stored as Adobe (inverted) or plain; centres must decode to RGB.
 */
static void test_cmyk_jpeg(void) {
  static const uint8_t rgb[6][3] = {{255, 0, 0},     {0, 255, 0}, {0, 0, 255},
                                    {255, 255, 255}, {0, 0, 0},   {128, 128, 128}};
  static const uint8_t cmyk[6][4] = {{0, 255, 255, 0}, {255, 0, 255, 0}, {255, 255, 0, 0},
                                     {0, 0, 0, 0},     {0, 0, 0, 255},   {0, 0, 0, 127}};
  const int w = 240, h = 80;
  uint8_t *pix = malloc((size_t)4 * w * h);
  for (int variant = 0; variant < 3; variant++) {
    int adobe = variant < 2; /* 0: Adobe CMYK, 1: Adobe YCCK, 2: plain CMYK without marker */
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int b = (x / 80) + (y >= 40 ? 3 : 0);
        for (int k = 0; k < 4; k++)
          pix[4 * (w * y + x) + k] = adobe ? (uint8_t)(255 - cmyk[b][k]) : cmyk[b][k];
      }
    size_t len;
    uint8_t *jpg = encode_jpeg_ex(pix, w, h, JCS_CMYK, variant == 1 ? JCS_YCCK : JCS_CMYK, 100,
                                  adobe, 0, &len);
    mien_image img;
    CHECK(decode(jpg, len, 0, &img, NULL) == MIEN_IMG_OK);
    for (int b = 0; b < 6 && img.rgb; b++) {
      const uint8_t *p = px(&img, 40 + 80 * (b % 3), b < 3 ? 20 : 60);
      for (int k = 0; k < 3; k++)
        CHECK_MSG(abs(p[k] - rgb[b][k]) <= 3, "variant %d block %d channel %d: %d vs %d", variant,
                  b, k, p[k], rgb[b][k]);
    }
    mien_image_free(&img);
    free(jpg);
  }
  free(pix);
}

/* Where stored pixel (sx,sy) of a sw x sh image comes from, for upright pixel (x,y): the inverse
 * of each EXIF orientation, written out independently of the library's table. */
static void stored_of(int o, int x, int y, int sw, int sh, int *sx, int *sy) {
  switch (o) {
  case 1:
    *sx = x, *sy = y;
    break;
  case 2:
    *sx = sw - 1 - x, *sy = y;
    break;
  case 3:
    *sx = sw - 1 - x, *sy = sh - 1 - y;
    break;
  case 4:
    *sx = x, *sy = sh - 1 - y;
    break;
  case 5:
    *sx = y, *sy = x;
    break;
  case 6:
    *sx = y, *sy = sh - 1 - x;
    break;
  case 7:
    *sx = sw - 1 - y, *sy = sh - 1 - x;
    break;
  default:
    *sx = sw - 1 - y, *sy = x;
    break;
  }
}

static void check_oriented(const mien_image *stored, const mien_image *up, int o) {
  int swap = o >= 5;
  CHECK_MSG(up->w == (swap ? stored->h : stored->w) && up->h == (swap ? stored->w : stored->h),
            "orientation %d: %dx%d", o, up->w, up->h);
  if (!up->rgb || up->w * up->h != stored->w * stored->h) return;
  int bad = 0;
  for (int y = 0; y < up->h; y++)
    for (int x = 0; x < up->w; x++) {
      int sx, sy;
      stored_of(o, x, y, stored->w, stored->h, &sx, &sy);
      bad += memcmp(px(up, x, y), px(stored, sx, sy), 3) != 0;
    }
  CHECK_MSG(bad == 0, "orientation %d: %d pixels misplaced", o, bad);
  /* Anchor the reference itself: where the stored top-left corner must end up. */
  const int corner[9][2] = {{0, 0}, {0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}, {1, 0}, {1, 1}, {0, 1}};
  CHECK(memcmp(px(up, corner[o][0] * (up->w - 1), corner[o][1] * (up->h - 1)), px(stored, 0, 0),
               3) == 0);
}

static void test_exif_orientation(void) {
  mien_image src = pattern(120, 88);
  size_t len;
  uint8_t *jpg = encode_jpeg(&src, 95, &len);
  mien_image stored;
  CHECK(decode(jpg, len, 0, &stored, NULL) == MIEN_IMG_OK);
  for (int o = 1; o <= 8; o++) {
    size_t elen;
    uint8_t *ej = with_exif(jpg, len, o, o % 2, &elen);
    mien_image up;
    mien_image_info info;
    CHECK(decode(ej, elen, 0, &up, &info) == MIEN_IMG_OK);
    CHECK(info.orientation == o);
    CHECK(info.orig_w == up.w && info.orig_h == up.h);
    check_oriented(&stored, &up, o);
    mien_image_free(&up);
    free(ej);
  }
  /* An IFD that claims more entries than the segment holds is ignored, not trusted. */
  size_t elen;
  uint8_t *ej = with_exif(jpg, len, 6, 1, &elen);
  ej[2 + 4 + 6 + 9] = 200;            /* entry count */
  ej[2 + 4 + 6 + 10 + 12 + 1] = 0x13; /* and the orientation tag renamed */
  mien_image up;
  mien_image_info info;
  CHECK(decode(ej, elen, 0, &up, &info) == MIEN_IMG_OK);
  CHECK(info.orientation == 1 && up.w == 120);
  mien_image_free(&up);
  free(ej);

  /* PNG carries EXIF in an eXIf chunk. */
  png_spec s = {SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, NULL, 6};
  uint8_t *png =
      encode_png(stored.rgb, (size_t)3 * stored.w * stored.h, stored.w, stored.h, &s, &len);
  CHECK(png && decode(png, len, 0, &up, &info) == MIEN_IMG_OK);
  CHECK(info.format == MIEN_IMG_FORMAT_PNG && info.orientation == 6);
  check_oriented(&stored, &up, 6);
  mien_image_free(&up);
  free(png);
  mien_image_free(&stored);
  mien_image_free(&src);
  free(jpg);
}

static void test_png_matches_jpeg(void) {
  mien_image src = pattern(160, 120);
  size_t jlen, plen;
  uint8_t *jpg = encode_jpeg(&src, 100, &jlen), *png = encode_png_rgb(&src, &plen);
  mien_image a, b;
  mien_image_info ia, ib;
  CHECK(decode(jpg, jlen, 0, &a, &ia) == MIEN_IMG_OK);
  CHECK(decode(png, plen, 0, &b, &ib) == MIEN_IMG_OK);
  CHECK(ia.format == MIEN_IMG_FORMAT_JPEG && ib.format == MIEN_IMG_FORMAT_PNG);
  CHECK(a.w == b.w && a.h == b.h);
  if (a.rgb && b.rgb) {
    double mean;
    int m = max_diff(&a, &b, &mean);
    CHECK_MSG(m <= 4 && mean < 1.0, "max %d mean %g", m, mean);
    CHECK(max_diff(&b, &src, NULL) == 0);
  }
  mien_image_free(&a);
  mien_image_free(&b);
  mien_image_free(&src);
  free(jpg);
  free(png);
}

/* Each PNG colour type and depth, with the RGB every pixel must come out as (alpha over black). */
static void test_png_variants(void) {
  const int w = 96, h = 84, n = w * h;
  uint8_t *raw = malloc((size_t)8 * n);
  mien_image want = {w, h, malloc((size_t)3 * n)};
  struct spng_plte plte = {0};
  struct spng_trns trns = {0};
  for (int variant = 0; variant < 8; variant++) {
    png_spec s = {0, 8, 0, NULL, NULL, 0};
    for (int i = 0; i < n; i++) {
      uint8_t v = (uint8_t)(i * 7 + i / w), a = (uint8_t)(i * 13), *o = want.rgb + 3 * i;
      uint16_t *r16 = (uint16_t *)raw;
      switch (variant) {
      case 0: /* gray 8 */
        s.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
        raw[i] = v, o[0] = o[1] = o[2] = v;
        break;
      case 1: /* gray + alpha 8 */
        s.color_type = SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
        raw[2 * i] = v, raw[2 * i + 1] = a;
        o[0] = o[1] = o[2] = (uint8_t)((v * a + 127) / 255);
        break;
      case 2: /* palette with transparency */
      case 7: /* the same, Adam7-interlaced */
        s.color_type = SPNG_COLOR_TYPE_INDEXED, s.plte = &plte, s.trns = &trns;
        s.interlace = variant == 7;
        plte.n_entries = trns.n_type3_entries = 256;
        for (int k = 0; k < 256; k++) {
          plte.entries[k] =
              (struct spng_plte_entry){(uint8_t)k, (uint8_t)(255 - k), (uint8_t)(k * 3), 0};
          trns.type3_alpha[k] = (uint8_t)(k < 128 ? 255 : 2 * k - 256);
        }
        raw[i] = v;
        for (int c = 0; c < 3; c++) {
          const struct spng_plte_entry *e = &plte.entries[v];
          int ch = c == 0 ? e->red : c == 1 ? e->green : e->blue;
          o[c] = (uint8_t)((ch * trns.type3_alpha[v] + 127) / 255);
        }
        break;
      case 3: /* RGBA 8 */
        s.color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
        raw[4 * i] = v, raw[4 * i + 1] = (uint8_t)~v, raw[4 * i + 2] = (uint8_t)(v / 2),
                raw[4 * i + 3] = a;
        for (int c = 0; c < 3; c++) o[c] = (uint8_t)((raw[4 * i + c] * a + 127) / 255);
        break;
      case 4: /* RGB 16 */
        s.color_type = SPNG_COLOR_TYPE_TRUECOLOR, s.bit_depth = 16;
        for (int c = 0; c < 3; c++) {
          uint8_t c8 = (uint8_t)(v + 60 * c);
          r16[3 * i + c] = (uint16_t)(c8 * 257);
          o[c] = c8;
        }
        break;
      case 5: /* gray 16 */
        s.color_type = SPNG_COLOR_TYPE_GRAYSCALE, s.bit_depth = 16;
        r16[i] = (uint16_t)(v * 257), o[0] = o[1] = o[2] = v;
        break;
      case 6: /* gray 1-bit, packed MSB first */
        s.color_type = SPNG_COLOR_TYPE_GRAYSCALE, s.bit_depth = 1;
        if (i % w == 0) memset(raw + (i / w) * ((w + 7) / 8), 0, (w + 7) / 8);
        if (v & 1) raw[(i / w) * ((w + 7) / 8) + (i % w) / 8] |= (uint8_t)(0x80 >> (i % w % 8));
        o[0] = o[1] = o[2] = (v & 1) ? 255 : 0;
        break;
      }
    }
    size_t row_bytes = ((size_t)w *
                            (s.color_type == 2   ? 3
                             : s.color_type == 4 ? 2
                             : s.color_type == 6 ? 4
                                                 : 1) *
                            s.bit_depth +
                        7) /
                       8;
    size_t len;
    uint8_t *png = encode_png(raw, row_bytes * h, w, h, &s, &len);
    CHECK_MSG(png != NULL, "variant %d not encoded", variant);
    if (!png) continue;
    mien_image img;
    CHECK(decode(png, len, 0, &img, NULL) == MIEN_IMG_OK);
    if (img.rgb) {
      int m = max_diff(&img, &want, NULL);
      CHECK_MSG(m <= 1, "variant %d differs by %d", variant, m);
    }
    mien_image_free(&img);
    free(png);
  }
  mien_image_free(&want);
  free(raw);
}

static void test_reduced_scale(void) {
  mien_image src = pattern(1000, 600);
  size_t len;
  uint8_t *jpg = encode_jpeg(&src, 90, &len);
  static const struct {
    int want, scale, w, h;
  } cases[] = {{0, 1, 1000, 600},  {250, 4, 250, 150},  {200, 4, 250, 150},  {124, 8, 125, 75},
               {300, 2, 500, 300}, {501, 1, 1000, 600}, {2000, 1, 1000, 600}};
  mien_image full;
  CHECK(decode(jpg, len, 0, &full, NULL) == MIEN_IMG_OK);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    mien_image img;
    mien_image_info info;
    CHECK(decode(jpg, len, cases[i].want, &img, &info) == MIEN_IMG_OK);
    CHECK_MSG(img.w == cases[i].w && img.h == cases[i].h && info.scale == cases[i].scale,
              "want %d: %dx%d scale %d", cases[i].want, img.w, img.h, info.scale);
    CHECK(info.orig_w == 1000 && info.orig_h == 600);
    /* The reduced image is the full one averaged over scale x scale blocks, near enough. */
    if (img.rgb && full.rgb && info.scale > 1) {
      double err = 0;
      int s = info.scale;
      for (int y = 0; y < img.h; y++)
        for (int x = 0; x < img.w; x++)
          for (int c = 0; c < 3; c++) {
            int sum = 0;
            for (int dy = 0; dy < s; dy++)
              for (int dx = 0; dx < s; dx++) sum += px(&full, x * s + dx, y * s + dy)[c];
            err += fabs(px(&img, x, y)[c] - sum / (double)(s * s));
          }
      err /= 3.0 * img.w * img.h;
      CHECK_MSG(err < 2.0, "scale %d: mean error %g", s, err);
    }
    mien_image_free(&img);
  }
  /* Orientation and scale together: sizes are upright. */
  size_t elen;
  uint8_t *ej = with_exif(jpg, len, 6, 0, &elen);
  mien_image img;
  mien_image_info info;
  CHECK(decode(ej, elen, 250, &img, &info) == MIEN_IMG_OK);
  CHECK(img.w == 150 && img.h == 250 && info.orig_w == 600 && info.orig_h == 1000 &&
        info.scale == 4);
  mien_image_free(&img);
  free(ej);
  mien_image_free(&full);
  mien_image_free(&src);
  free(jpg);
}

/* ---- hostile and invalid input ---- */

static mien_img_status decode_quiet(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                                    char *err, size_t errlen) {
  mien_image img = {1, 1, (uint8_t *)1};
  mien_img_status st = mien_image_decode(buf, len, lim, 0, &img, NULL, err, errlen);
  if (st != MIEN_IMG_OK) {
    CHECK(img.rgb == NULL && img.w == 0 && img.h == 0 && err[0] != '\0');
    if (img.rgb) return st; /* not ours to free */
  }
  mien_image_free(&img);
  return st;
}

static void expect(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                   mien_img_status want, const char *what) {
  char err[256] = "";
  mien_img_status st = decode_quiet(buf, len, lim, err, sizeof err);
  CHECK_MSG(st == want, "%s: status %d (%s), wanted %d", what, st, err, want);
}

static void test_not_an_image(void) {
  static const uint8_t text[] = "hello, this is not an image at all";
  static const uint8_t magic_only[] = {0xff, 0xd8, 0xff};
  expect(text, 0, NULL, MIEN_IMG_INVALID_FORMAT, "zero bytes");
  expect(NULL, 0, NULL, MIEN_IMG_INVALID_FORMAT, "NULL");
  expect(text, sizeof text, NULL, MIEN_IMG_INVALID_FORMAT, "text");
  expect(magic_only, sizeof magic_only, NULL, MIEN_IMG_INVALID_FORMAT, "JPEG magic only");
  /* A NULL message buffer is allowed. */
  mien_image img;
  CHECK(mien_image_decode(text, sizeof text, NULL, 0, &img, NULL, NULL, 0) ==
        MIEN_IMG_INVALID_FORMAT);
  CHECK(mien_image_decode(text, sizeof text, NULL, 0, NULL, NULL, NULL, 0) ==
        MIEN_IMG_BAD_ARGUMENT);
}

static void test_truncated(void) {
  mien_image src = pattern(200, 160);
  size_t lens[3];
  uint8_t *files[3] = {encode_jpeg(&src, 90, &lens[0]),
                       encode_jpeg_ex(src.rgb, 200, 160, JCS_RGB, -1, 90, 0, 1, &lens[1]),
                       encode_png_rgb(&src, &lens[2])};
  for (int f = 0; f < 3; f++) {
    char what[64];
    for (int k = 1; k <= 7; k++) {
      snprintf(what, sizeof what, "file %d cut at %d/8", f, k);
      expect(files[f], lens[f] * k / 8, NULL, MIEN_IMG_INVALID_FORMAT, what);
    }
    /* JPEG: up to the last byte of EOI. PNG: libspng never reads IEND's 4-byte CRC, so cutting
     * 5 bytes is the least that loses something (part of the IEND tag). */
    snprintf(what, sizeof what, "file %d less its end marker's last byte", f);
    expect(files[f], lens[f] - (f < 2 ? 1 : 5), NULL, MIEN_IMG_INVALID_FORMAT, what);
    expect(files[f], lens[f], NULL, MIEN_IMG_OK, "whole file");
    free(files[f]);
  }
  mien_image_free(&src);
}

/* Random bit flips must never crash, hang or leak; whatever comes back must be consistent. */
static void test_bit_flips(void) {
  mien_image src = pattern(160, 128);
  size_t lens[3];
  uint8_t *files[3] = {encode_jpeg(&src, 85, &lens[0]),
                       encode_jpeg_ex(src.rgb, 160, 128, JCS_RGB, -1, 85, 0, 1, &lens[1]),
                       encode_png_rgb(&src, &lens[2])};
  int ok = 0, invalid = 0;
  for (int f = 0; f < 3; f++) {
    uint8_t *copy = malloc(lens[f]);
    for (int trial = 0; trial < 300; trial++) {
      memcpy(copy, files[f], lens[f]);
      int flips = 1 + (int)(rnd() % 4);
      for (int i = 0; i < flips; i++) {
        size_t at = rnd() % lens[f];
        copy[at] ^= (uint8_t)(1u << (rnd() % 8));
      }
      char err[256] = "";
      mien_image img;
      mien_img_status st = mien_image_decode(copy, lens[f], NULL, 0, &img, NULL, err, sizeof err);
      CHECK_MSG(st == MIEN_IMG_OK || st == MIEN_IMG_INVALID_FORMAT || st == MIEN_IMG_TOO_LARGE ||
                    st == MIEN_IMG_TOO_SMALL,
                "status %d: %s", st, err);
      if (st == MIEN_IMG_OK) {
        CHECK(img.rgb && img.w >= 80 && img.h >= 80);
        ok++;
      } else {
        CHECK(!img.rgb && err[0]);
        invalid++;
      }
      mien_image_free(&img);
    }
    free(copy);
    free(files[f]);
  }
  printf("  bit flips: %d decoded, %d refused\n", ok, invalid);
  mien_image_free(&src);
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Rewrites the SOF0 size fields of a baseline JPEG. */
static void set_jpeg_size(uint8_t *jpg, size_t len, int w, int h) {
  for (size_t i = 2; i + 9 < len; i++)
    if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
      jpg[i + 5] = (uint8_t)(h >> 8), jpg[i + 6] = (uint8_t)h;
      jpg[i + 7] = (uint8_t)(w >> 8), jpg[i + 8] = (uint8_t)w;
      return;
    }
}

static void test_limits(void) {
  char err[256] = "";
  /* A PNG whose valid IHDR declares 100000x100000, followed by an empty IDAT and IEND. */
  uint8_t png[8 + 25 + 12 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t *c = png + 8;
  put32(c, 13), memcpy(c + 4, "IHDR", 4), put32(c + 8, 100000), put32(c + 12, 100000);
  c[16] = 8, c[17] = 2, c[18] = c[19] = c[20] = 0;
  put32(c + 21, crc32_of(c + 4, 17));
  c += 25;
  put32(c, 0), memcpy(c + 4, "IDAT", 4), put32(c + 8, crc32_of(c + 4, 4));
  c += 12;
  put32(c, 0), memcpy(c + 4, "IEND", 4), put32(c + 8, crc32_of(c + 4, 4));
  CHECK(decode_quiet(png, sizeof png, NULL, err, sizeof err) == MIEN_IMG_TOO_LARGE);
  CHECK_MSG(strstr(err, "100000x100000") != NULL, "%s", err);

  mien_image src = pattern(120, 100);
  size_t len;
  uint8_t *jpg = encode_jpeg(&src, 90, &len);
  set_jpeg_size(jpg, len, 60000, 60000);
  CHECK(decode_quiet(jpg, len, NULL, err, sizeof err) == MIEN_IMG_TOO_LARGE);
  CHECK_MSG(strstr(err, "60000x60000") != NULL, "%s", err);
  set_jpeg_size(jpg, len, 8000, 7000); /* under the side limit, over the pixel limit */
  expect(jpg, len, NULL, MIEN_IMG_TOO_LARGE, "56 MP");
  free(jpg);

  jpg = encode_jpeg(&src, 90, &len);
  mien_image_limits lim;
  mien_image_limits_default(&lim);
  CHECK(lim.max_bytes == 5u << 20 && lim.min_side == 80);
  lim.max_bytes = len - 1;
  CHECK(decode_quiet(jpg, len, &lim, err, sizeof err) == MIEN_IMG_TOO_LARGE);
  CHECK_MSG(strstr(err, "bytes") != NULL, "%s", err);
  lim.max_bytes = len;
  expect(jpg, len, &lim, MIEN_IMG_OK, "exactly at the byte limit");
  lim.max_pixels = 120 * 100 - 1;
  expect(jpg, len, &lim, MIEN_IMG_TOO_LARGE, "over a custom pixel limit");
  free(jpg);
  /* Over the default byte limit: refused before the contents are even looked at. */
  size_t big = (5u << 20) + 1;
  uint8_t *huge = calloc(big, 1);
  memcpy(huge, "\xff\xd8\xff", 3);
  expect(huge, big, NULL, MIEN_IMG_TOO_LARGE, "5 MiB + 1");
  free(huge);
  mien_image_free(&src);

  static const struct {
    int w, h;
    mien_img_status st;
  } sizes[] = {{40, 40, MIEN_IMG_TOO_SMALL},
               {79, 200, MIEN_IMG_TOO_SMALL},
               {200, 79, MIEN_IMG_TOO_SMALL},
               {80, 80, MIEN_IMG_OK}};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    mien_image s = pattern(sizes[i].w, sizes[i].h);
    size_t plen;
    uint8_t *p = encode_png_rgb(&s, &plen);
    jpg = encode_jpeg(&s, 90, &len);
    expect(jpg, len, NULL, sizes[i].st, "small JPEG");
    expect(p, plen, NULL, sizes[i].st, "small PNG");
    if (sizes[i].st == MIEN_IMG_TOO_SMALL) {
      decode_quiet(p, plen, NULL, err, sizeof err);
      CHECK_MSG(strstr(err, "at least 80") != NULL, "%s", err);
    }
    free(jpg);
    free(p);
    mien_image_free(&s);
  }
}

/* ---- resampling ---- */

static mien_image random_image(int w, int h) {
  mien_image img = {w, h, malloc((size_t)3 * w * h)};
  for (size_t i = 0; i < (size_t)3 * w * h; i++) img.rgb[i] = (uint8_t)rnd();
  return img;
}

/* The zero-padded crop, then OpenCV-style INTER_LINEAR along each axis, all in double. */
static double crop_px(const mien_image *img, int x0, int y0, int i, int j, int c) {
  int x = x0 + i, y = y0 + j;
  return x < 0 || y < 0 || x >= img->w || y >= img->h ? 0.0 : px(img, x, y)[c];
}

static void ref_axis(int o, int n, int len, int *i0, int *i1, double *f) {
  double u = (o + 0.5) * len / n - 0.5;
  int i = (int)floor(u);
  *f = u - i;
  if (u < 0) i = 0, *f = 0;
  if (i >= len - 1) i = len - 1, *f = 0;
  *i0 = i;
  *i1 = i + 1 < len ? i + 1 : i;
}

static void ref_resize(const mien_image *img, int x0, int y0, int cw, int ch, int ow, int oh,
                       double mean, double scale, int gray, int bgr, double *out) {
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      int a0, a1, b0, b1;
      double fx, fy, v[3];
      ref_axis(x, ow, cw, &a0, &a1, &fx);
      ref_axis(y, oh, ch, &b0, &b1, &fy);
      for (int c = 0; c < 3; c++)
        v[c] = (1 - fy) * ((1 - fx) * crop_px(img, x0, y0, a0, b0, c) +
                           fx * crop_px(img, x0, y0, a1, b0, c)) +
               fy * ((1 - fx) * crop_px(img, x0, y0, a0, b1, c) +
                     fx * crop_px(img, x0, y0, a1, b1, c));
      size_t o = (size_t)ow * y + x, plane = (size_t)ow * oh;
      if (gray) {
        out[o] = (0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2] - mean) * scale;
      } else {
        for (int c = 0; c < 3; c++) out[(bgr ? 2 - c : c) * plane + o] = (v[c] - mean) * scale;
      }
    }
}

static double tensor_diff(const float *a, const double *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs(a[i] - b[i]) > m) m = fabs(a[i] - b[i]);
  return m;
}

static void test_resize(void) {
  mien_image img = random_image(37, 29);
  static const struct {
    int x0, y0, cw, ch, ow, oh, gray, bgr;
    float mean, scale;
  } cases[] = {
      {0, 0, 37, 29, 37, 29, 0, 0, 0, 1},             /* identity */
      {0, 0, 37, 29, 80, 61, 0, 0, 127, 1 / 128.f},   /* upscale, detector normalisation */
      {0, 0, 37, 29, 13, 11, 0, 1, 0, 1},             /* downscale, BGR (YuNet) */
      {5, 3, 20, 16, 64, 64, 1, 0, 0, 1 / 256.f},     /* landmark crop, gray */
      {-10, -5, 30, 20, 24, 16, 0, 0, 0, 1},          /* partly outside */
      {25, 20, 30, 30, 17, 17, 1, 0, 10, 0.5f},       /* partly outside, bottom right */
      {100, 100, 10, 10, 5, 5, 0, 0, 127, 1 / 128.f}, /* wholly outside */
      {0, 0, 1, 1, 3, 3, 0, 0, 0, 1},                 /* one pixel */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t n = (size_t)(cases[i].gray ? 1 : 3) * cases[i].ow * cases[i].oh;
    float *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    CHECK(mien_image_resize_to_tensor(&img, cases[i].x0, cases[i].y0, cases[i].cw, cases[i].ch,
                                      cases[i].ow, cases[i].oh, cases[i].mean, cases[i].scale,
                                      cases[i].gray, cases[i].bgr, got) == MIEN_IMG_OK);
    ref_resize(&img, cases[i].x0, cases[i].y0, cases[i].cw, cases[i].ch, cases[i].ow, cases[i].oh,
               cases[i].mean, cases[i].scale, cases[i].gray, cases[i].bgr, want);
    double d = tensor_diff(got, want, n);
    CHECK_MSG(d < 1e-3, "case %zu: max diff %g", i, d);
    free(got);
    free(want);
  }
  /* Facts that anchor the reference: identity is a copy, halving averages 2x2 blocks, and the
   * part of a crop beyond the image is exactly zero. */
  float t[3 * 74 * 29];
  mien_image_resize_to_tensor(&img, 0, 0, 37, 29, 37, 29, 0, 1, 0, 0, t);
  int bad = 0;
  for (int y = 0; y < 29; y++)
    for (int x = 0; x < 37; x++)
      for (int c = 0; c < 3; c++) bad += t[c * 37 * 29 + y * 37 + x] != px(&img, x, y)[c];
  CHECK(bad == 0);
  mien_image_resize_to_tensor(&img, 2, 2, 20, 20, 10, 10, 0, 1, 0, 0, t);
  double s = px(&img, 2, 2)[0] + px(&img, 3, 2)[0] + px(&img, 2, 3)[0] + px(&img, 3, 3)[0];
  CHECK_NEAR(t[0], s / 4, 1e-3);
  mien_image_resize_to_tensor(&img, -37, 0, 74, 29, 74, 29, 0, 1, 0, 0, t);
  bad = 0;
  for (int y = 0; y < 29; y++)
    for (int x = 0; x < 36; x++) bad += t[y * 74 + x] != 0;
  CHECK(bad == 0);
  CHECK(mien_image_resize_to_tensor(&img, 0, 0, 0, 10, 5, 5, 0, 1, 0, 0, t) ==
        MIEN_IMG_BAD_ARGUMENT);
  mien_image_free(&img);
}

static void ref_warp(const mien_image *img, const double M[6], int ow, int oh, double mean,
                     double scale, double *out) {
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      double sx = M[0] * x + M[1] * y + M[2], sy = M[3] * x + M[4] * y + M[5];
      int ix = (int)floor(sx), iy = (int)floor(sy);
      double fx = sx - ix, fy = sy - iy;
      for (int c = 0; c < 3; c++) {
        double v =
            (1 - fy) *
                ((1 - fx) * crop_px(img, ix, iy, 0, 0, c) + fx * crop_px(img, ix, iy, 1, 0, c)) +
            fy * ((1 - fx) * crop_px(img, ix, iy, 0, 1, c) + fx * crop_px(img, ix, iy, 1, 1, c));
        out[(size_t)c * ow * oh + (size_t)ow * y + x] = (v - mean) * scale;
      }
    }
}

static void test_warp(void) {
  mien_image img = random_image(50, 40);
  const double a = 0.5236; /* 30 degrees, about the centre, scaled by 1.3, then shifted */
  const double ca = cos(a) * 1.3, sa = sin(a) * 1.3;
  const double Ms[][6] = {
      {1, 0, 0, 0, 1, 0},                                                /* identity */
      {1, 0, 0.5, 0, 1, 0.25},                                           /* sub-pixel shift */
      {ca, -sa, 25 - ca * 56 + sa * 56, sa, ca, 20 - sa * 56 - ca * 56}, /* rotation, 112x112 */
      {0.4, 0.1, -10, -0.1, 0.4, 30},                                    /* partly outside */
      {1, 0, 1000, 0, 1, 1000},                                          /* wholly outside */
  };
  const int sizes[][2] = {{50, 40}, {50, 40}, {112, 112}, {112, 112}, {20, 20}};
  for (size_t i = 0; i < sizeof Ms / sizeof *Ms; i++) {
    int ow = sizes[i][0], oh = sizes[i][1];
    size_t n = (size_t)3 * ow * oh;
    float M[6], *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    for (int k = 0; k < 6; k++) M[k] = (float)Ms[i][k];
    double Mf[6];
    for (int k = 0; k < 6; k++) Mf[k] = M[k]; /* the reference sees the same rounded matrix */
    CHECK(mien_image_warp_affine_to_tensor(&img, M, ow, oh, 127.5f, 1 / 127.5f, got) ==
          MIEN_IMG_OK);
    ref_warp(&img, Mf, ow, oh, 127.5, 1 / 127.5, want);
    double d = tensor_diff(got, want, n);
    CHECK_MSG(d < 1e-4, "warp %zu: max diff %g", i, d);
    if (i == 0) {
      int bad = 0;
      for (size_t k = 0; k < n; k++) {
        int c = (int)(k / (50 * 40)), p = (int)(k % (50 * 40));
        bad += fabs(got[k] * 127.5 + 127.5 - img.rgb[3 * p + c]) > 1e-3;
      }
      CHECK(bad == 0);
    }
    free(got);
    free(want);
  }
  /* A 90-degree turn lands on whole pixels: out(x,y) = in(y, h-1-x). */
  float M90[6] = {0, 1, 0, -1, 0, 39}, t[3 * 40 * 50];
  CHECK(mien_image_warp_affine_to_tensor(&img, M90, 0, 5, 0, 1, t) == MIEN_IMG_BAD_ARGUMENT);
  mien_image_warp_affine_to_tensor(&img, M90, 40, 50, 0, 1, t);
  int bad = 0;
  for (int y = 0; y < 50; y++)
    for (int x = 0; x < 40; x++)
      for (int c = 0; c < 3; c++) bad += t[c * 2000 + y * 40 + x] != px(&img, y, 39 - x)[c];
  CHECK(bad == 0);
  /* A NaN matrix reads nothing of the image. */
  float Mnan[6] = {NAN, 0, 0, 0, NAN, 0};
  mien_image_warp_affine_to_tensor(&img, Mnan, 4, 4, 0, 1, t);
  CHECK(t[0] == 0 && t[47] == 0);
  mien_image_free(&img);
}

/* ---- drawing and writing ---- */

static void test_draw_and_write_png(void) {
  mien_image img = {100, 90, calloc(3 * 100 * 90, 1)};
  mien_image_draw_rect(&img, 10, 20, 49, 59, 255, 0, 0, 2);
  mien_image_draw_point(&img, 70, 70, 3, 0, 255, 0);
  mien_image_draw_rect(&img, -50, -50, 500, 500, 0, 0, 255, 1); /* clipped: nothing visible */
  mien_image_draw_point(&img, -10, 95, 5, 0, 0, 255);
  CHECK(px(&img, 10, 20)[0] == 255 && px(&img, 11, 40)[0] == 255 && px(&img, 49, 59)[0] == 255);
  CHECK(px(&img, 12, 22)[0] == 0 && px(&img, 30, 40)[0] == 0 && px(&img, 9, 20)[0] == 0);
  CHECK(px(&img, 70, 67)[1] == 255 && px(&img, 73, 70)[1] == 255 && px(&img, 73, 73)[1] == 0);

  char path[] = "/tmp/mien_test_image_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  CHECK(mien_image_write_png(path, &img) == 0);
  size_t len;
  uint8_t *png = mien_read_file(path, &len);
  mien_image back;
  CHECK(png && decode(png, len, 0, &back, NULL) == MIEN_IMG_OK);
  CHECK(back.w == 100 && back.h == 90 && back.rgb && max_diff(&back, &img, NULL) == 0);
  mien_image_free(&back);
  free(png);
  remove(path);
  CHECK(mien_image_write_png("/nonexistent-dir/x.png", &img) == -1 && errno == ENOENT);
  mien_image_free(&img);
}

int main(void) {
  RUN(test_real_photo);
  RUN(test_gray_jpeg);
  RUN(test_cmyk_jpeg);
  RUN(test_exif_orientation);
  RUN(test_png_matches_jpeg);
  RUN(test_png_variants);
  RUN(test_reduced_scale);
  RUN(test_not_an_image);
  RUN(test_truncated);
  RUN(test_bit_flips);
  RUN(test_limits);
  RUN(test_resize);
  RUN(test_warp);
  RUN(test_draw_and_write_png);
  return check_summary();
}
