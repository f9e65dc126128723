/* video.h - faces in stored video: the interface of src/video/.
 *
 *   decode.c   FFmpeg's libraries behind a small reader: a container (MP4/MOV, MKV/WebM, AVI)
 *              read through an AVIOContext over an already opened file descriptor (or memory,
 *              for the fuzzer), one video stream decoded and sampled at a fixed rate, each
 *              sampled frame turned upright (display-matrix rotation) into a mien_image.
 *   track.c    faces linked across sampled frames into tracks (box overlap, a cheap
 *              appearance check, and the embedding when those disagree), so that a person
 *              keeps one index and is embedded a few times per track, not once per frame.
 *   analyze.c  the loop a job runs: sample, detect, and (for a search) track and embed,
 *              handing each frame's faces or each finished track to the caller.
 *
 * Sampling: one frame every MIEN_VIDEO_SAMPLE_MS (200 ms, 5 frames a second, about what
 * Rekognition Video reports): the first decoded frame at or after each multiple of 200 ms.
 * Frames between samples are decoded only as far as the codec needs them for reference: a
 * packet whose frame will not be sampled is decoded with skip_frame = AVDISCARD_NONREF, so its
 * non-reference frames (most B-frames) are dropped before any pixel work. Keyframe seeking
 * would only pay when samples lie further apart than the keyframe interval (seconds in common
 * encodes), never at 5 fps, so the reader never seeks. Codecs that can decode at a reduced
 * size (MJPEG, via lowres) halve frames at least twice MIEN_VIDEO_LOWRES_SIDE wide, as often as
 * that keeps them at least that wide.
 *
 * Budgets: the file's size (10 GB) is the caller's to check before opening; the reader
 * refuses a claimed duration over 6 hours, frames over the side and pixel limits (whatever the
 * container claims: the decoder checks every frame with max_pixels), containers and codecs
 * outside the lists above, and stops when the job's wall-clock budget runs out, wherever that
 * happens (probing, demuxing or decoding: FFmpeg's interrupt callback is polled). */
#ifndef MIEN_VIDEO_VIDEO_H
#define MIEN_VIDEO_VIDEO_H

#include <stdatomic.h>
#include <stdint.h>

#include "face/face.h"
#include "mien.h"

#define MIEN_VIDEO_MAX_BYTES ((int64_t)10 << 30)       /* Rekognition Video: 10 GB */
#define MIEN_VIDEO_MAX_DURATION_MS (6LL * 3600 * 1000) /* and 6 hours */
#define MIEN_VIDEO_MAX_SIDE 8192                       /* 8K UHD (7680x4320) fits */
#define MIEN_VIDEO_MAX_PIXELS ((int64_t)7680 * 4320)
#define MIEN_VIDEO_LOWRES_SIDE 1920
/* Smallest face looked for: Rekognition's 40 px (documented for 1920x1080 images) in any frame up
 * to 1920 px, proportionally more in larger ones. Smaller frames keep 40 px too: a face under
 * that is too small to search reliably, and the detector's finest pass then costs a 720p frame a
 * third of what the image rule (40 px per 1920) would. */
#define MIEN_VIDEO_MIN_FACE 40

typedef struct {
  int64_t max_duration_ms; /* a longer claimed duration is refused */
  int max_side;            /* frame sides, after decoding */
  int64_t max_pixels;
  double budget_ms; /* wall-clock budget of the whole read; <= 0: none */
  int threads;      /* decoder threads; 0: FFmpeg's choice */
} mien_video_limits;

/* The defaults above; budget_ms: none (a job sets its own). */
void mien_video_limits_default(mien_video_limits *lim);

/* What Rekognition's VideoMetadata says, as known once the container is open. Width and height
 * are the upright (displayed) frame's, the one bounding boxes are ratios of. */
typedef struct {
  char codec[32];      /* "h264", "hevc", "vp9", ... (FFmpeg's decoder names) */
  char format[64];     /* the container, as FFmpeg names it: "QuickTime / MOV", "Matroska / WebM" */
  int64_t duration_ms; /* 0 when the container does not say */
  double frame_rate;   /* 0 when unknown */
  int width, height;
  int full_range; /* ColorRange FULL (else LIMITED) */
  int rotation;   /* degrees clockwise applied to make frames upright: 0, 90, 180, 270 */
} mien_video_meta;

/* Where the time goes, for benchmarks and the job log (milliseconds, summed). */
typedef struct {
  double demux_decode_ms, convert_ms, detect_ms, embed_ms, search_ms;
  int64_t packets, frames_decoded, frames_sampled, faces, embeddings, tracks;
} mien_video_stats;

typedef struct mien_video mien_video;

/* Why a video could not be read: the job's StatusMessage says the text; this says which of
 * Rekognition's conditions it was. */
typedef enum {
  MIEN_VIDEO_OK = 0,
  MIEN_VIDEO_UNSUPPORTED, /* not a container/codec mien reads, or no video stream */
  MIEN_VIDEO_CORRUPT,     /* damaged or truncated beyond decoding */
  MIEN_VIDEO_TOO_LARGE,   /* duration or frame size over the limits */
  MIEN_VIDEO_TIMEOUT,     /* the budget ran out */
  MIEN_VIDEO_CANCELLED,   /* *stop was set */
  MIEN_VIDEO_NOMEM
} mien_video_status;

/* Opens the video read from fd (taken over: closed by mien_video_close, or here on failure).
 * stop (may be NULL) cancels a read in progress when it becomes non-zero. */
mien_video_status mien_video_open_fd(int fd, const mien_video_limits *lim, const atomic_int *stop,
                                     mien_video **out, char *err, size_t errlen);
/* The same over bytes in memory (not copied: they must outlive the reader). */
mien_video_status mien_video_open_memory(const uint8_t *data, size_t len,
                                         const mien_video_limits *lim, const atomic_int *stop,
                                         mien_video **out, char *err, size_t errlen);
const mien_video_meta *mien_video_metadata(const mien_video *v);
/* The next sampled frame, upright RGB, and its time in ms from the start of the video; *done =
 * 1 (and img empty) after the last. img is reused between calls (mien_image_free it at the
 * end). */
mien_video_status mien_video_next(mien_video *v, mien_image *img, int64_t *ts_ms, int *done,
                                  char *err, size_t errlen);
/* Replaces the wall-clock budget: budget_ms from now (a job learns the duration only once open). */
void mien_video_set_budget(mien_video *v, double budget_ms);
/* How far the read has got: the last sampled time over the duration, 0..1 (0 when unknown). */
double mien_video_progress(const mien_video *v);
const mien_video_stats *mien_video_stats_get(const mien_video *v);
void mien_video_close(mien_video *v);

/* ---- analysis (analyze.c, track.c) ---- */

/* One sighting of a tracked person: when, and the face then (pixels of the upright frame). */
typedef struct {
  int64_t ts;
  mien_face face;
} mien_video_sighting;

/* A finished track: Person.Index, its sightings in time order, and the mean of its embeddings
 * (L2-normalised; has_embedding = 0 when no sighting could be aligned). */
typedef struct {
  int64_t index;
  const mien_video_sighting *s;
  int n;
  int has_embedding;
  float embedding[MIEN_EMBED_DIM];
} mien_video_track;

typedef struct {
  mien_faces *faces;
  /* Detection: each sampled frame's faces (largest first). */
  mien_status (*frame)(void *ctx, int64_t ts, const mien_face *faces, int n, int w, int h,
                       char *err, size_t errlen);
  /* Search (tracking on when set): each track once it ended, in the order they end. */
  mien_status (*track)(void *ctx, const mien_video_track *t, int w, int h, char *err,
                       size_t errlen);
  /* Called about once a second with mien_video_progress (may be NULL). */
  void (*progress)(void *ctx, double fraction);
  void *ctx;
} mien_video_analysis;

/* Reads v to its end through a. A failure of the video itself is reported as *vst (with err);
 * a callback's failure is returned as its status. */
mien_status mien_video_analyze(mien_video *v, const mien_video_analysis *a, mien_video_status *vst,
                               char *err, size_t errlen);

#endif
