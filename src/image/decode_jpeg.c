/* decode_jpeg.c - JPEG to upright RGB through libjpeg(-turbo).
 * libjpeg reports fatal errors by calling error_exit, which by default exits the process; ours
 * longjmps back so a hostile file only yields INVALID_FORMAT. A truncated file is fatal here too
 * (libjpeg would warn and pad it with grey). The declared size is checked against the limits
 * before libjpeg allocates image memory, DCT scaling decodes big photos at 1/2-1/8 size for
 * almost nothing, and the EXIF orientation is applied row by row as the rows arrive. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image/internal.h"

struct jstate {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr jerr;
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  mien_img_status status; /* what decode() returns after a longjmp */
  char *err;
  size_t errlen;
  const mien_image_limits *lim;
  int want_max_side;
  mien_image *out;
  mien_image_info *info;
  uint8_t *row;         /* one decoded row, before colour conversion and orientation */
  int scans_counted;    /* the last scan whose blocks are in scan_blocks */
  uint64_t scan_blocks; /* blocks the progressive scans so far walk, all scans together */
};

static _Noreturn void bail(struct jstate *s, mien_img_status st, const char *what) {
  s->status = mien_img_fail(s->err, s->errlen, st, "%s", what);
  longjmp(s->jump, 1);
}

static void on_error(j_common_ptr c) {
  struct jstate *s = (struct jstate *)c->client_data;
  char msg[JMSG_LENGTH_MAX], sentence[JMSG_LENGTH_MAX + 32];
  c->err->format_message(c, msg);
  if (c->err->msg_code == JERR_OUT_OF_MEMORY)
    bail(s, MIEN_IMG_NOMEM, "out of memory decoding a JPEG");
  snprintf(sentence, sizeof sentence, "corrupt JPEG: %s", msg);
  bail(s, MIEN_IMG_INVALID_FORMAT, sentence);
}

/* Warnings (level -1) are recoverable corruption that viewers show anyway, except running out of
 * data: that is a truncated upload and gets refused. Trace messages (level >= 0) are dropped. */
static void on_message(j_common_ptr c, int level) {
  if (level == -1 && c->err->msg_code == JWRN_JPEG_EOF)
    bail((struct jstate *)c->client_data, MIEN_IMG_INVALID_FORMAT, "JPEG data is truncated");
}

/* Progressive files with thousands of tiny scans take minutes to decode; real ones have ~10. */
#define MAX_SCANS 500
/* Decoding cost grows with the blocks each scan walks, not with the file's bytes: an 8192x6144
 * file of 500 one-coefficient scans is 150 KB of end-of-band runs, yet walks 786,432 blocks
 * 500 times (seconds per request). libjpeg's standard progressive script walks about five
 * times the frame's blocks (DC first and refinement over all components, AC bands per
 * component), so twelve frames' worth leaves room for any real encoder and refuses a file
 * built to be slow after a bounded amount of work. */
#define MAX_SCAN_PASSES 12

static void on_progress(j_common_ptr c) {
  j_decompress_ptr d = (j_decompress_ptr)c;
  struct jstate *s = (struct jstate *)c->client_data;
  if (d->input_scan_number > MAX_SCANS)
    bail(s, MIEN_IMG_INVALID_FORMAT, "JPEG has more progressive scans than any real photo");
  if (d->input_scan_number == s->scans_counted || !d->progressive_mode) return;
  s->scans_counted = d->input_scan_number; /* a new scan began: count the blocks it walks */
  uint64_t frame = 0;
  for (int i = 0; i < d->num_components; i++)
    frame += (uint64_t)d->comp_info[i].width_in_blocks * d->comp_info[i].height_in_blocks;
  for (int i = 0; i < d->comps_in_scan; i++)
    s->scan_blocks +=
        (uint64_t)d->cur_comp_info[i]->width_in_blocks * d->cur_comp_info[i]->height_in_blocks;
  if (s->scan_blocks > MAX_SCAN_PASSES * frame)
    bail(s, MIEN_IMG_INVALID_FORMAT,
         "JPEG's progressive scans would cost more than any real photo's (too many scans for "
         "its size)");
}

static int orientation_from_markers(j_decompress_ptr d) {
  static const uint8_t exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};
  for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > sizeof exif_id &&
        memcmp(m->data, exif_id, sizeof exif_id) == 0)
      return mien_exif_orientation(m->data + sizeof exif_id, m->data_length - sizeof exif_id);
  return 1;
}

/* Largest power-of-two reduction (up to 8) that keeps the larger side >= want. */
static int pick_scale(int w, int h, int want) {
  int side = w > h ? w : h;
  if (want <= 0) return 1;
  for (int d = 8; d >= 2; d /= 2)
    if ((side + d - 1) / d >= want) return d;
  return 1;
}

/* CMYK to RGB in place (4 bytes in, 3 out). Adobe writers store CMYK inverted (0 = full ink),
 * and their files carry an APP14 Adobe marker; plain CMYK is 0 = no ink. */
static void cmyk_to_rgb(uint8_t *row, int w, int inverted) {
  for (int x = 0; x < w; x++) {
    int c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
    if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
    row[3 * x] = (uint8_t)((c * k + 127) / 255);
    row[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
    row[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
  }
}

/* Everything that can longjmp happens here. All state lives in *s, owned by the caller, so
 * nothing read after a jump is an indeterminate local of this frame. */
static mien_img_status decode(struct jstate *s, const uint8_t *buf, size_t len) {
  j_decompress_ptr d = &s->cinfo;
  if (setjmp(s->jump)) return s->status;

  d->err = jpeg_std_error(&s->jerr);
  s->jerr.error_exit = on_error;
  s->jerr.emit_message = on_message;
  d->client_data = s; /* create keeps it, and may already fail through on_error */
  jpeg_create_decompress(d);
  s->progress.progress_monitor = on_progress;
  d->progress = &s->progress;
  jpeg_mem_src(d, buf, (unsigned long)len);
  jpeg_save_markers(d, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(d, TRUE);

  int orientation = orientation_from_markers(d), ow, oh;
  mien_orient_size(orientation, (int)d->image_width, (int)d->image_height, &ow, &oh);
  mien_img_status st =
      mien_img_check_size((uint64_t)ow, (uint64_t)oh, s->lim, "JPEG", s->err, s->errlen);
  if (st != MIEN_IMG_OK) return st;
  s->info->orig_w = ow;
  s->info->orig_h = oh;
  s->info->orientation = orientation;

  int cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
  d->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  d->scale_num = 1;
  d->scale_denom = (unsigned)pick_scale(ow, oh, s->want_max_side);
  s->info->scale = (int)d->scale_denom;

  jpeg_start_decompress(d);
  int sw = (int)d->output_width, sh = (int)d->output_height;
  mien_image *out = s->out;
  mien_orient_size(orientation, sw, sh, &out->w, &out->h);
  out->rgb = malloc((size_t)3 * sw * sh);
  s->row = malloc((size_t)4 * sw);
  if (!out->rgb || !s->row) bail(s, MIEN_IMG_NOMEM, "out of memory decoding a JPEG");

  while (d->output_scanline < d->output_height) {
    int y = (int)d->output_scanline;
    JSAMPROW r = s->row;
    jpeg_read_scanlines(d, &r, 1);
    if (cmyk) cmyk_to_rgb(s->row, sw, d->saw_Adobe_marker);
    mien_orient_row(out, s->row, sw, sh, y, orientation);
  }
  jpeg_finish_decompress(d);
  return MIEN_IMG_OK;
}

mien_img_status mien_img_decode_jpeg(const uint8_t *buf, size_t len, const mien_image_limits *lim,
                                     int want_max_side, mien_image *out, mien_image_info *info,
                                     char *err, size_t errlen) {
  struct jstate *s = calloc(1, sizeof *s);
  if (!s) return mien_img_fail(err, errlen, MIEN_IMG_NOMEM, "out of memory decoding a JPEG");
  s->err = err;
  s->errlen = errlen;
  s->lim = lim;
  s->want_max_side = want_max_side;
  s->out = out;
  s->info = info;
  mien_img_status st = decode(s, buf, len);
  jpeg_destroy_decompress(&s->cinfo); /* safe on a struct that create never finished */
  free(s->row);
  if (st != MIEN_IMG_OK) mien_image_free(out);
  free(s);
  return st;
}
