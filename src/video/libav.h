/* libav.h - FFmpeg's functions as decode.c calls them, loaded with dlopen on first use.
 *
 * Why not link them: libavcodec brings its whole dependency tree (libjxl, libhwy, dav1d, x265,
 * ...) into every process that links libmien, the server and every CLI command included, even
 * though only video jobs read video. That is more code mapped into a process that holds
 * biometric templates, a slower start, and foreign static initialisers run at load (libhwy's
 * executes RDTSCP, which valgrind refuses on CPUs that do not advertise it). Loaded on demand,
 * FFmpeg is in memory only where a video is read, and a machine without FFmpeg's libraries
 * still runs everything else; its video jobs fail with a message saying what to install.
 *
 * The libraries are found by the sonames of the FFmpeg mien was compiled against
 * (libavformat.so.<major>, ...): within a major version FFmpeg keeps its ABI, across one it does
 * not, so a library of another major version is not taken. The table's types come from the
 * headers themselves (__typeof__), so a signature cannot drift from the declaration. */
#ifndef MIEN_VIDEO_LIBAV_H
#define MIEN_VIDEO_LIBAV_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

/* Where FFmpeg moved the display matrix (decode.c reads it through the newer call when built
 * against a newer FFmpeg). */
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
#define MIEN_LIBAV_SIDE_DATA(X) X(AVCODEC, av_packet_side_data_get)
#else
#define MIEN_LIBAV_SIDE_DATA(X) X(AVFORMAT, av_stream_get_side_data)
#endif

/* X(library, function): every FFmpeg function decode.c calls. */
#define MIEN_LIBAV_FUNCTIONS(X)                                                                    \
  X(AVUTIL, av_dict_free)                                                                          \
  X(AVUTIL, av_dict_set)                                                                           \
  X(AVUTIL, av_display_rotation_get)                                                               \
  X(AVUTIL, av_frame_alloc)                                                                        \
  X(AVUTIL, av_frame_free)                                                                         \
  X(AVUTIL, av_frame_unref)                                                                        \
  X(AVUTIL, av_free)                                                                               \
  X(AVUTIL, av_freep)                                                                              \
  X(AVUTIL, av_get_pix_fmt_name)                                                                   \
  X(AVUTIL, av_log_set_level)                                                                      \
  X(AVUTIL, av_malloc)                                                                             \
  X(AVUTIL, av_match_list)                                                                         \
  X(AVUTIL, av_rescale_q)                                                                          \
  X(AVUTIL, av_strerror)                                                                           \
  X(SWSCALE, sws_freeContext)                                                                      \
  X(SWSCALE, sws_getCachedContext)                                                                 \
  X(SWSCALE, sws_getCoefficients)                                                                  \
  X(SWSCALE, sws_scale)                                                                            \
  X(SWSCALE, sws_setColorspaceDetails)                                                             \
  X(AVCODEC, av_packet_alloc)                                                                      \
  X(AVCODEC, av_packet_free)                                                                       \
  X(AVCODEC, av_packet_unref)                                                                      \
  X(AVCODEC, avcodec_alloc_context3)                                                               \
  X(AVCODEC, avcodec_free_context)                                                                 \
  X(AVCODEC, avcodec_get_name)                                                                     \
  X(AVCODEC, avcodec_open2)                                                                        \
  X(AVCODEC, avcodec_parameters_to_context)                                                        \
  X(AVCODEC, avcodec_receive_frame)                                                                \
  X(AVCODEC, avcodec_send_packet)                                                                  \
  X(AVFORMAT, av_find_best_stream)                                                                 \
  X(AVFORMAT, av_guess_frame_rate)                                                                 \
  X(AVFORMAT, av_read_frame)                                                                       \
  X(AVFORMAT, avformat_alloc_context)                                                              \
  X(AVFORMAT, avformat_close_input)                                                                \
  X(AVFORMAT, avformat_find_stream_info)                                                           \
  X(AVFORMAT, avformat_open_input)                                                                 \
  X(AVFORMAT, avio_alloc_context)                                                                  \
  X(AVFORMAT, avio_context_free)                                                                   \
  MIEN_LIBAV_SIDE_DATA(X)

typedef struct {
#define MIEN_LIBAV_FIELD(lib, fn) __typeof__(fn) *fn;
  MIEN_LIBAV_FUNCTIONS(MIEN_LIBAV_FIELD)
#undef MIEN_LIBAV_FIELD
} mien_libav_table;

/* The functions, valid once mien_libav_load succeeded. */
extern mien_libav_table mien_libav;

/* Loads FFmpeg's libraries once (thread-safe) and silences FFmpeg's own log. NULL when loaded;
 * else why not, as a sentence for a job's StatusMessage. */
const char *mien_libav_load(void);

#endif
