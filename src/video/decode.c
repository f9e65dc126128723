/* decode.c - stored video through FFmpeg's libraries (video.h says what is sampled and why).
 *
 * The container is read through an AVIOContext whose callbacks read the descriptor the caller
 * opened (or a buffer), so no path reaches FFmpeg: it cannot open another file, follow a link
 * or reach the network. Demuxers are limited to MOV/MP4, Matroska/WebM and AVI and decoders to
 * the codecs below (format_whitelist, codec_whitelist): everything else FFmpeg could parse is
 * attack surface a face search has no use for. FFmpeg's own log is silenced; what went wrong
 * reaches the caller as one sentence.
 *
 * Rotation: phones store frames sideways and say how to show them in the stream's display
 * matrix; the angle (a multiple of 90 degrees, others are rounded) becomes an EXIF-style
 * orientation and each converted row is scattered to its upright place (image.h). Mirroring in
 * a display matrix is ignored: no camera writes it.
 *
 * Damage: a packet the decoder rejects is skipped, as players do, up to MAX_BAD_PACKETS in a
 * row; a truncated file ends where its data ends; a file yielding no frame at all fails. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"
#include "video/libav.h"
#include "video/video.h"

#define IO_BUFFER 65536
#define MAX_BAD_PACKETS 200
/* A frame up to this much before a sample time is taken for it: timestamps of 29.97 or 24 fps
 * video do not fall on multiples of 200 ms, and muxers round; under half a 25 fps frame. */
#define SAMPLE_SLACK_MS 15
#define FORMATS "mov,mp4,matroska,webm,avi"
#define CODECS "h264,hevc,vp8,vp9,av1,libdav1d,mpeg4,mjpeg"
#define CODEC_NAMES "H.264, HEVC, VP8, VP9, AV1, MPEG-4 Part 2 and MJPEG"

struct mien_video {
  /* the source: a descriptor or a buffer */
  int fd;
  const uint8_t *mem;
  int64_t mem_len, mem_pos;

  AVIOContext *io;
  AVFormatContext *fmt;
  AVCodecContext *dec;
  AVPacket *pkt;
  AVFrame *frame;
  struct SwsContext *sws;
  int stream;
  AVRational tb;
  int64_t start_pts;
  int orientation;   /* 1, 3, 6 or 8 */
  mien_image stored; /* the converted frame before rotation (orientation != 1) */

  mien_video_limits lim;
  const atomic_int *stop;
  double deadline_ms; /* monotonic; 0: none */
  int timed_out;

  int64_t next_ms; /* the next sample time */
  int64_t last_ms;
  int flushing, done, bad_in_a_row;
  mien_video_meta meta;
  mien_video_stats stats;
};

void mien_video_limits_default(mien_video_limits *lim) {
  *lim = (mien_video_limits){.max_duration_ms = MIEN_VIDEO_MAX_DURATION_MS,
                             .max_side = MIEN_VIDEO_MAX_SIDE,
                             .max_pixels = MIEN_VIDEO_MAX_PIXELS};
}

/* ---- the source ---- */

static int read_packet(void *opaque, uint8_t *buf, int n) {
  mien_video *v = opaque;
  if (v->mem) {
    int64_t left = v->mem_len - v->mem_pos;
    if (left <= 0) return AVERROR_EOF;
    if (n > left) n = (int)left;
    memcpy(buf, v->mem + v->mem_pos, (size_t)n);
    v->mem_pos += n;
    return n;
  }
  ssize_t got;
  do got = read(v->fd, buf, (size_t)n);
  while (got < 0 && errno == EINTR);
  if (got < 0) return AVERROR(errno);
  return got ? (int)got : AVERROR_EOF;
}

static int64_t seek(void *opaque, int64_t off, int whence) {
  mien_video *v = opaque;
  whence &= ~AVSEEK_FORCE;
  if (v->mem) {
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? v->mem_pos : v->mem_len;
    if (whence == AVSEEK_SIZE) return v->mem_len;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
    if (off < -base || off > v->mem_len - base) return AVERROR(EINVAL);
    return v->mem_pos = base + off;
  }
  if (whence == AVSEEK_SIZE) {
    struct stat sb;
    return fstat(v->fd, &sb) == 0 ? (int64_t)sb.st_size : AVERROR(errno);
  }
  off_t r = lseek(v->fd, (off_t)off, whence);
  return r < 0 ? AVERROR(errno) : (int64_t)r;
}

/* FFmpeg polls this in its blocking loops: the budget and the caller's stop end them. */
static int interrupted(void *opaque) {
  mien_video *v = opaque;
  if (v->stop && atomic_load(v->stop)) return 1;
  if (v->deadline_ms > 0 && mien_now_ms() > v->deadline_ms) return v->timed_out = 1;
  return 0;
}

/* ---- opening ---- */

static mien_video_status fail(char *err, size_t errlen, mien_video_status st, const char *fmt,
                              const char *what) {
  mien_set_err(err, errlen, fmt, what);
  return st;
}

/* Why FFmpeg stopped: the budget, the caller, or the data. */
static mien_video_status av_status(mien_video *v, int ret, const char *doing, char *err,
                                   size_t errlen) {
  char msg[AV_ERROR_MAX_STRING_SIZE] = "";
  if (v->stop && atomic_load(v->stop))
    return fail(err, errlen, MIEN_VIDEO_CANCELLED, "%s: stopped", doing);
  if (v->timed_out || ret == AVERROR_EXIT) {
    mien_set_err(err, errlen, "%s: the decoding time budget of %.0f s ran out", doing,
                 v->lim.budget_ms / 1000);
    return MIEN_VIDEO_TIMEOUT;
  }
  if (ret == AVERROR(ENOMEM))
    return fail(err, errlen, MIEN_VIDEO_NOMEM, "%s: out of memory", doing);
  mien_libav.av_strerror(ret, msg, sizeof msg);
  mien_set_err(err, errlen, "%s: %s", doing, msg);
  return MIEN_VIDEO_CORRUPT;
}

/* The clockwise rotation that shows the stream upright, as an EXIF orientation. */
static int stream_orientation(const AVStream *st, int *degrees) {
  size_t size = 0;
  const int32_t *m = NULL;
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
  const AVPacketSideData *sd = mien_libav.av_packet_side_data_get(
      st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
  if (sd) m = (const int32_t *)sd->data, size = sd->size;
#else
  m = (const int32_t *)mien_libav.av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
#endif
  *degrees = 0;
  if (!m || size < 9 * sizeof(int32_t)) return 1;
  double ccw = mien_libav.av_display_rotation_get(m);
  if (isnan(ccw)) return 1;
  int cw = ((int)lround(-ccw / 90.0) % 4 + 4) % 4;
  *degrees = 90 * cw;
  static const int orientation[4] = {1, 6, 3, 8};
  return orientation[cw];
}

static void fill_metadata(mien_video *v, const AVStream *st, const AVCodec *codec) {
  mien_video_meta *m = &v->meta;
  snprintf(m->codec, sizeof m->codec, "%s", codec->name);
  snprintf(m->format, sizeof m->format, "%s",
           v->fmt->iformat->long_name ? v->fmt->iformat->long_name : v->fmt->iformat->name);
  int64_t d = v->fmt->duration != AV_NOPTS_VALUE ? v->fmt->duration / 1000 : 0;
  if (d <= 0 && st->duration != AV_NOPTS_VALUE)
    d = mien_libav.av_rescale_q(st->duration, st->time_base, (AVRational){1, 1000});
  m->duration_ms = d > 0 ? d : 0;
  AVRational fr = mien_libav.av_guess_frame_rate(v->fmt, (AVStream *)st, NULL);
  m->frame_rate = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
  int w = st->codecpar->width, h = st->codecpar->height;
  int swap = v->orientation == 6 || v->orientation == 8;
  m->width = swap ? h : w;
  m->height = swap ? w : h;
  m->full_range = st->codecpar->color_range == AVCOL_RANGE_JPEG;
}

static mien_video_status check_size(mien_video *v, int w, int h, char *err, size_t errlen) {
  if (w > v->lim.max_side || h > v->lim.max_side || (int64_t)w * h > v->lim.max_pixels) {
    mien_set_err(err, errlen,
                 "the video's frames are %dx%d; the limit is %d pixels a side and %lld pixels", w,
                 h, v->lim.max_side, (long long)v->lim.max_pixels);
    return MIEN_VIDEO_TOO_LARGE;
  }
  return MIEN_VIDEO_OK;
}

static mien_video_status open_decoder(mien_video *v, char *err, size_t errlen) {
  const AVCodec *codec = NULL;
  int idx = mien_libav.av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (idx == AVERROR_STREAM_NOT_FOUND)
    return fail(err, errlen, MIEN_VIDEO_UNSUPPORTED, "%s", "the file has no video stream");
  AVStream *st = idx >= 0 ? v->fmt->streams[idx] : NULL;
  if (!codec || !mien_libav.av_match_list(codec->name, CODECS, ',')) {
    const char *name = st ? mien_libav.avcodec_get_name(st->codecpar->codec_id) : "unknown";
    mien_set_err(err, errlen, "unsupported codec %s: mien decodes " CODEC_NAMES, name);
    return MIEN_VIDEO_UNSUPPORTED;
  }
  v->stream = idx;
  v->tb = st->time_base;
  v->start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
  int degrees;
  v->orientation = stream_orientation(st, &degrees);
  fill_metadata(v, st, codec);
  v->meta.rotation = degrees;
  mien_video_status vs = check_size(v, st->codecpar->width, st->codecpar->height, err, errlen);
  if (vs != MIEN_VIDEO_OK) return vs;
  if (v->meta.duration_ms > v->lim.max_duration_ms) {
    mien_set_err(err, errlen, "the video claims to last %.1f hours; the limit is %.1f hours",
                 v->meta.duration_ms / 3.6e6, v->lim.max_duration_ms / 3.6e6);
    return MIEN_VIDEO_TOO_LARGE;
  }
  if (!(v->dec = mien_libav.avcodec_alloc_context3(codec)))
    return fail(err, errlen, MIEN_VIDEO_NOMEM, "%s", "out of memory");
  int ret = mien_libav.avcodec_parameters_to_context(v->dec, st->codecpar);
  if (ret < 0) return av_status(v, ret, "reading the codec parameters", err, errlen);
  v->dec->thread_count = v->lim.threads;
  v->dec->max_pixels = v->lim.max_pixels;
  /* Reduced-size decoding where the codec has it, for frames far larger than faces need. */
  int lowres = 0;
  while (lowres < codec->max_lowres && (v->dec->width >> (lowres + 1)) >= MIEN_VIDEO_LOWRES_SIDE)
    lowres++;
  v->dec->lowres = lowres;
  AVDictionary *opts = NULL;
  mien_libav.av_dict_set(&opts, "codec_whitelist", CODECS, 0);
  ret = mien_libav.avcodec_open2(v->dec, codec, &opts);
  mien_libav.av_dict_free(&opts);
  if (ret < 0) return av_status(v, ret, "opening the decoder", err, errlen);
  return MIEN_VIDEO_OK;
}

static mien_video_status open_common(mien_video *v, const mien_video_limits *lim,
                                     const atomic_int *stop, mien_video **out, char *err,
                                     size_t errlen) {
  mien_video_limits_default(&v->lim);
  if (lim) v->lim = *lim;
  v->stop = stop;
  v->orientation = 1;
  v->stream = -1;
  if (v->lim.budget_ms > 0) v->deadline_ms = mien_now_ms() + v->lim.budget_ms;
  double t0 = mien_now_ms();
  mien_video_status vs = MIEN_VIDEO_OK;
  uint8_t *buf = mien_libav.av_malloc(IO_BUFFER);
  if (buf &&
      !(v->io = mien_libav.avio_alloc_context(buf, IO_BUFFER, 0, v, read_packet, NULL, seek)))
    mien_libav.av_free(buf);
  v->fmt = v->io ? mien_libav.avformat_alloc_context() : NULL;
  v->pkt = mien_libav.av_packet_alloc();
  v->frame = mien_libav.av_frame_alloc();
  if (!v->fmt || !v->pkt || !v->frame)
    vs = fail(err, errlen, MIEN_VIDEO_NOMEM, "%s", "out of memory");
  if (vs == MIEN_VIDEO_OK) {
    v->fmt->pb = v->io;
    v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    v->fmt->interrupt_callback = (AVIOInterruptCB){interrupted, v};
    AVDictionary *opts = NULL;
    mien_libav.av_dict_set(&opts, "format_whitelist", FORMATS, 0);
    mien_libav.av_dict_set(&opts, "codec_whitelist", CODECS, 0);
    mien_libav.av_dict_set(&opts, "protocol_whitelist", "", 0);
    int ret = mien_libav.avformat_open_input(&v->fmt, NULL, NULL, &opts);
    mien_libav.av_dict_free(&opts);
    if (ret < 0) {
      v->fmt = NULL; /* freed by avformat_open_input */
      /* Out of time or memory, or stopped: that; anything else (no demuxer, one off the list,
       * damaged headers) is a file mien does not read. */
      vs = v->timed_out || ret == AVERROR(ENOMEM) || (v->stop && atomic_load(v->stop))
               ? av_status(v, ret, "opening the container", err, errlen)
               : fail(err, errlen, MIEN_VIDEO_UNSUPPORTED, "%s",
                      "not a video mien reads: the container must be MP4/MOV, MKV/WebM or AVI");
    }
  }
  /* Sizes the container claims, before probing decodes anything (the probe forgets a size it
   * could not decode at). */
  for (unsigned i = 0; vs == MIEN_VIDEO_OK && i < v->fmt->nb_streams; i++) {
    const AVCodecParameters *par = v->fmt->streams[i]->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO)
      vs = check_size(v, par->width, par->height, err, errlen);
  }
  if (vs == MIEN_VIDEO_OK) {
    int ret = mien_libav.avformat_find_stream_info(v->fmt, NULL);
    if (ret < 0) vs = av_status(v, ret, "reading the streams", err, errlen);
  }
  if (vs == MIEN_VIDEO_OK) vs = open_decoder(v, err, errlen);
  v->stats.demux_decode_ms += mien_now_ms() - t0;
  if (vs != MIEN_VIDEO_OK) {
    mien_video_close(v);
    return vs;
  }
  *out = v;
  return MIEN_VIDEO_OK;
}

mien_video_status mien_video_open_fd(int fd, const mien_video_limits *lim, const atomic_int *stop,
                                     mien_video **out, char *err, size_t errlen) {
  *out = NULL;
  const char *no_libav = mien_libav_load();
  mien_video *v = no_libav ? NULL : calloc(1, sizeof *v);
  if (!v) {
    close(fd);
    return no_libav ? fail(err, errlen, MIEN_VIDEO_UNSUPPORTED, "%s", no_libav)
                    : fail(err, errlen, MIEN_VIDEO_NOMEM, "%s", "out of memory");
  }
  v->fd = fd;
  return open_common(v, lim, stop, out, err, errlen);
}

mien_video_status mien_video_open_memory(const uint8_t *data, size_t len,
                                         const mien_video_limits *lim, const atomic_int *stop,
                                         mien_video **out, char *err, size_t errlen) {
  *out = NULL;
  const char *no_libav = mien_libav_load();
  if (no_libav) return fail(err, errlen, MIEN_VIDEO_UNSUPPORTED, "%s", no_libav);
  mien_video *v = calloc(1, sizeof *v);
  if (!v) return fail(err, errlen, MIEN_VIDEO_NOMEM, "%s", "out of memory");
  v->fd = -1;
  v->mem = data ? data : (const uint8_t *)"";
  v->mem_len = (int64_t)len;
  return open_common(v, lim, stop, out, err, errlen);
}

void mien_video_close(mien_video *v) {
  if (!v) return;
  mien_libav.sws_freeContext(v->sws);
  mien_image_free(&v->stored);
  mien_libav.av_frame_free(&v->frame);
  mien_libav.av_packet_free(&v->pkt);
  mien_libav.avcodec_free_context(&v->dec);
  if (v->fmt) mien_libav.avformat_close_input(&v->fmt);
  if (v->io) mien_libav.av_freep(&v->io->buffer);
  mien_libav.avio_context_free(&v->io);
  if (v->fd >= 0 && !v->mem) close(v->fd);
  free(v);
}

const mien_video_meta *mien_video_metadata(const mien_video *v) {
  return &v->meta;
}

const mien_video_stats *mien_video_stats_get(const mien_video *v) {
  return &v->stats;
}

void mien_video_set_budget(mien_video *v, double budget_ms) {
  v->lim.budget_ms = budget_ms;
  v->deadline_ms = budget_ms > 0 ? mien_now_ms() + budget_ms : 0;
}

double mien_video_progress(const mien_video *v) {
  if (v->done) return 1;
  if (v->meta.duration_ms <= 0) return 0;
  double p = (double)v->last_ms / (double)v->meta.duration_ms;
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* ---- frames ---- */

/* A timestamp in ms from the stream's start, saturating: a damaged file's timestamps may be
 * anything. */
static int64_t to_ms(const mien_video *v, int64_t pts) {
  int64_t d;
  if (__builtin_sub_overflow(pts, v->start_pts, &d))
    return pts < v->start_pts ? INT64_MIN : INT64_MAX;
  return mien_libav.av_rescale_q(d, v->tb, (AVRational){1, 1000});
}

/* Allocates img as w x h unless it already is. */
static int image_size(mien_image *img, int w, int h) {
  if (img->rgb && img->w == w && img->h == h) return 0;
  mien_image_free(img);
  if (!(img->rgb = malloc((size_t)w * (size_t)h * 3))) return -1;
  img->w = w, img->h = h;
  return 0;
}

/* The decoded frame into img: RGB, upright. */
static mien_video_status convert(mien_video *v, mien_image *img, char *err, size_t errlen) {
  AVFrame *f = v->frame;
  mien_video_status vs = check_size(v, f->width, f->height, err, errlen);
  if (vs != MIEN_VIDEO_OK) return vs;
  int swap = v->orientation == 6 || v->orientation == 8;
  mien_image *dst = v->orientation == 1 ? img : &v->stored;
  if (image_size(dst, f->width, f->height) ||
      image_size(img, swap ? f->height : f->width, swap ? f->width : f->height))
    return fail(err, errlen, MIEN_VIDEO_NOMEM, "%s", "out of memory");
  v->sws =
      mien_libav.sws_getCachedContext(v->sws, f->width, f->height, f->format, f->width, f->height,
                                      AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  if (!v->sws) {
    mien_set_err(err, errlen, "cannot convert frames of pixel format %s",
                 mien_libav.av_get_pix_fmt_name(f->format)
                     ? mien_libav.av_get_pix_fmt_name(f->format)
                     : "unknown");
    return MIEN_VIDEO_UNSUPPORTED;
  }
  /* Limited or full range as the frame says (MJPEG's yuvj formats are full range). */
  const int *coef = mien_libav.sws_getCoefficients(
      f->colorspace != AVCOL_SPC_UNSPECIFIED ? f->colorspace : SWS_CS_DEFAULT);
  mien_libav.sws_setColorspaceDetails(v->sws, coef, f->color_range == AVCOL_RANGE_JPEG, coef, 1, 0,
                                      1 << 16, 1 << 16);
  uint8_t *planes[4] = {dst->rgb, NULL, NULL, NULL};
  int strides[4] = {3 * dst->w, 0, 0, 0};
  mien_libav.sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes,
                       strides);
  for (int y = 0; dst != img && y < dst->h; y++)
    mien_orient_row(img, dst->rgb + (size_t)3 * dst->w * y, dst->w, dst->h, y, v->orientation);
  return MIEN_VIDEO_OK;
}

/* Feeds the decoder one packet of the video stream (or the end); *eof when there are none. */
static mien_video_status feed(mien_video *v, char *err, size_t errlen) {
  for (;;) {
    if (interrupted(v)) return av_status(v, AVERROR_EXIT, "reading the video", err, errlen);
    int ret = mien_libav.av_read_frame(v->fmt, v->pkt);
    if (ret < 0) {
      if (ret != AVERROR_EOF && (v->timed_out || (v->stop && atomic_load(v->stop))))
        return av_status(v, ret, "reading the video", err, errlen);
      /* The end, or data too damaged to go on: decode what was read. */
      v->flushing = 1;
      ret = mien_libav.avcodec_send_packet(v->dec, NULL);
      return ret < 0 && ret != AVERROR_EOF ? av_status(v, ret, "decoding", err, errlen)
                                           : MIEN_VIDEO_OK;
    }
    if (v->pkt->stream_index != v->stream) {
      mien_libav.av_packet_unref(v->pkt);
      continue;
    }
    v->stats.packets++;
    /* A packet whose frame comes before the next sample is needed only as a reference. */
    int64_t pts = v->pkt->pts != AV_NOPTS_VALUE ? v->pkt->pts : v->pkt->dts;
    /* next_ms only grows, and packets are sent before their frames come out, so a frame
     * dropped here would not have been sampled later either. */
    v->dec->skip_frame = pts != AV_NOPTS_VALUE && to_ms(v, pts) < v->next_ms - SAMPLE_SLACK_MS
                             ? AVDISCARD_NONREF
                             : AVDISCARD_DEFAULT;
    ret = mien_libav.avcodec_send_packet(v->dec, v->pkt);
    mien_libav.av_packet_unref(v->pkt);

    if (ret == AVERROR(EAGAIN)) {
      /* Full: the caller drains frames first; this packet is lost only to a broken decoder. */
      return MIEN_VIDEO_OK;
    }
    if (ret < 0 && ret != AVERROR_INVALIDDATA) return av_status(v, ret, "decoding", err, errlen);
    if (ret == AVERROR_INVALIDDATA && ++v->bad_in_a_row > MAX_BAD_PACKETS) {
      mien_set_err(err, errlen, "the video is corrupt: %d packets in a row could not be decoded",
                   MAX_BAD_PACKETS);
      return MIEN_VIDEO_CORRUPT;
    }
    if (ret == 0) v->bad_in_a_row = 0;
    return MIEN_VIDEO_OK;
  }
}

mien_video_status mien_video_next(mien_video *v, mien_image *img, int64_t *ts_ms, int *done,
                                  char *err, size_t errlen) {
  *done = 0;
  double t0 = mien_now_ms();
  mien_video_status vs = MIEN_VIDEO_OK;
  while (vs == MIEN_VIDEO_OK && !v->done) {
    int ret = mien_libav.avcodec_receive_frame(v->dec, v->frame);
    if (ret == AVERROR(EAGAIN)) {
      if (v->flushing) { /* a decoder that wants input after the end: nothing more comes */
        v->done = 1;
        break;
      }
      vs = feed(v, err, errlen);
      continue;
    }
    if (ret == AVERROR_EOF) {
      v->done = 1;
      break;
    }
    if (ret < 0) {
      if (ret != AVERROR_INVALIDDATA) vs = av_status(v, ret, "decoding", err, errlen);
      continue;
    }
    v->stats.frames_decoded++;
    int64_t pts = v->frame->best_effort_timestamp;
    int64_t ms = pts != AV_NOPTS_VALUE ? to_ms(v, pts) : v->last_ms;
    if (ms < v->next_ms - SAMPLE_SLACK_MS || (v->stats.frames_sampled && ms <= v->last_ms)) {
      mien_libav.av_frame_unref(v->frame);
      continue;
    }
    if (ms < 0) ms = 0;
    if (ms > v->lim.max_duration_ms) {
      mien_libav.av_frame_unref(v->frame);
      mien_set_err(err, errlen, "the video runs past %.1f hours, the limit",
                   v->lim.max_duration_ms / 3.6e6);
      v->stats.demux_decode_ms += mien_now_ms() - t0;
      return MIEN_VIDEO_TOO_LARGE;
    }
    v->stats.demux_decode_ms += mien_now_ms() - t0;
    double t1 = mien_now_ms();
    vs = convert(v, img, err, errlen);
    mien_libav.av_frame_unref(v->frame);
    v->stats.convert_ms += mien_now_ms() - t1;
    if (vs != MIEN_VIDEO_OK) return vs;
    v->stats.frames_sampled++;
    v->last_ms = ms;
    /* The frame stands for the sample time it is within the slack of; the next is one later. */
    v->next_ms = ((ms + SAMPLE_SLACK_MS) / MIEN_VIDEO_SAMPLE_MS + 1) * MIEN_VIDEO_SAMPLE_MS;
    *ts_ms = ms;
    return MIEN_VIDEO_OK;
  }
  v->stats.demux_decode_ms += mien_now_ms() - t0;
  if (vs != MIEN_VIDEO_OK) return vs;
  *done = 1;
  if (v->stats.frames_decoded == 0) {
    mien_set_err(err, errlen, "%s",
                 v->stats.packets ? "the video is corrupt: no frame could be decoded"
                                  : "the video has no frames (truncated or empty)");
    return MIEN_VIDEO_CORRUPT;
  }
  return MIEN_VIDEO_OK;
}
