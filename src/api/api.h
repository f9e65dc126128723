/* api.h - Rekognition's JSON shapes for faces, shared by the CLI and the server. */
#ifndef MIEN_API_H
#define MIEN_API_H

#include <cjson/cJSON.h>

#include "face/face.h"

/* A FaceDetail object: BoundingBox (ratios of the image), Landmarks, Pose, Quality, Confidence. */
cJSON *mien_face_detail_json(const mien_face *face, int img_w, int img_h);
/* A BoundingBox object alone. */
cJSON *mien_bounding_box_json(const mien_face *face, int img_w, int img_h);
/* {"BoundingBox", "Confidence"}: how CompareFaces reports its source face. */
cJSON *mien_face_summary_json(const mien_face *face, int img_w, int img_h);
/* {"__type": Rekognition's error name, "Message": msg} */
cJSON *mien_error_json(mien_status st, const char *msg);

#endif
