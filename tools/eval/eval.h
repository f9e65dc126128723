/* eval.h - what the files of mien-eval share (tools/eval/: eval.c has main, lfw and calibrate;
 * detect.c the detection evaluation). */
#ifndef MIEN_TOOLS_EVAL_H
#define MIEN_TOOLS_EVAL_H

#include "face/face.h"

/* `mien-eval detect`: precision, recall per condition and AP of detection on a labels file; photo
 * paths in it are relative to root; transform (NULL: none) is --transform's KIND:VALUE. */
int eval_detect(const char *labels, const char *root, const mien_faces_options *opt,
                const char *transform, int verbose);

#endif
