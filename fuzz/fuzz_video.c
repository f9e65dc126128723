/* fuzz_video.c - libFuzzer target for stored-video reading (src/video/decode.c): the input is the
 * video file, as a bucket would hold it. It goes through the same reader a job uses, over memory
 * instead of a descriptor: the container probed (MOV/MP4, MKV/WebM, AVI only), the stream's
 * codec checked (H.264, HEVC, VP8, VP9, AV1, MPEG-4, MJPEG only), frames decoded, sampled every
 * 200 ms, converted to RGB and turned upright.
 *
 * The limits are tight (640 px a side, 256 Kpx, a 5-second budget, one decoder thread) so each
 * run stays fast and a file claiming huge frames or a long duration must be refused. Beyond not
 * crashing, the target checks the reader's promises: a refusal says why, every sampled frame is
 * within the limits, and sample times only grow, one per 200 ms slot. */
#include "fuzz.h"
#include "video/video.h"

#define MAX_SAMPLES 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mien_video_limits lim = {.max_duration_ms = 3600 * 1000,
                           .max_side = 640,
                           .max_pixels = 256 * 1024,
                           .budget_ms = 5000,
                           .threads = 1};
  char err[512] = "";
  mien_video *v;
  mien_video_status st = mien_video_open_memory(data, size, &lim, NULL, &v, err, sizeof err);
  if (st != MIEN_VIDEO_OK) {
    FUZZ_ASSERT(err[0] != '\0');
    return 0;
  }
  const mien_video_meta *m = mien_video_metadata(v);
  FUZZ_ASSERT(m->duration_ms >= 0 && m->duration_ms <= lim.max_duration_ms);
  FUZZ_ASSERT(m->rotation % 90 == 0 && m->rotation >= 0 && m->rotation < 360);
  mien_image img = {0};
  int64_t last = -1;
  for (int i = 0; i < MAX_SAMPLES; i++) {
    int64_t ts;
    int done;
    err[0] = '\0';
    st = mien_video_next(v, &img, &ts, &done, err, sizeof err);
    if (st != MIEN_VIDEO_OK) {
      FUZZ_ASSERT(err[0] != '\0');
      break;
    }
    if (done) break;
    FUZZ_ASSERT(img.rgb && img.w >= 1 && img.h >= 1);
    FUZZ_ASSERT(img.w <= lim.max_side && img.h <= lim.max_side);
    FUZZ_ASSERT((int64_t)img.w * img.h <= lim.max_pixels);
    FUZZ_ASSERT(ts >= 0 && ts > last);
    /* One sample per 200 ms slot (a frame up to 15 ms early counts for the next slot). */
    FUZZ_ASSERT(last < 0 || (ts + 15) / MIEN_VIDEO_SAMPLE_MS > (last + 15) / MIEN_VIDEO_SAMPLE_MS);
    FUZZ_ASSERT(mien_video_progress(v) >= 0 && mien_video_progress(v) <= 1);
    last = ts;
  }
  mien_image_free(&img);
  mien_video_close(v);
  return 0;
}
