/* search.c - a collection of faces and a search in it, through Rekognition's operations by name:
 * `search STORE QUERY PHOTO...` creates the collection "example" in the store directory STORE
 * (when missing), indexes the largest face of each PHOTO under its file name (ExternalImageId),
 * then prints SearchFacesByImage's JSON for the largest face of QUERY: the faces of the
 * collection that match it, most similar first.
 *
 *   cc search.c $(pkg-config --cflags --libs mien) -o search
 *
 * mien_service_call takes and gives the JSON that aws-cli and boto3 exchange with `mien serve`;
 * mien_service_call_with hands the photo over as bytes, in place of the request's Image. */
#include <string.h>

#include "example.h"

/* Runs operation op with request json and the photo at path as its Image; prints the response
 * when print is set. Returns the status; err holds the message. */
static mien_status call_with_photo(mien_service *svc, const char *op, const char *json,
                                   const char *path, int print, char *err, size_t errlen) {
  size_t len;
  unsigned char *photo = read_file(path, &len);
  if (!photo) return snprintf(err, errlen, "cannot read %s", path), MIEN_ERR_IO;
  mien_call_context ctx = {.principal = "examples/search", .image = photo, .image_len = len};
  char *out = NULL;
  mien_status st = mien_service_call_with(svc, &ctx, op, json, strlen(json), &out, err, errlen);
  if (st == MIEN_OK && print) printf("%s\n", out);
  mien_free(out);
  free(photo);
  return st;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s STORE QUERY PHOTO...\n", argv[0]);
    return 2;
  }
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.store = argv[1];
  mien_service *svc;
  char err[512], json[1024];
  mien_status st = mien_service_open(&cfg, &svc, err, sizeof err);
  if (st != MIEN_OK) return failed("open", st, err);

  const char *create = "{\"CollectionId\":\"example\"}";
  char *out = NULL;
  st = mien_service_call(svc, "CreateCollection", create, strlen(create), &out, err, sizeof err);
  mien_free(out);
  if (st == MIEN_ERR_RESOURCE_EXISTS) st = MIEN_OK; /* a second run adds to the collection */
  for (int i = 3; st == MIEN_OK && i < argc; i++) {
    const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
    snprintf(json, sizeof json,
             "{\"CollectionId\":\"example\",\"ExternalImageId\":\"%.200s\",\"MaxFaces\":1}", name);
    st = call_with_photo(svc, "IndexFaces", json, argv[i], 0, err, sizeof err);
  }
  if (st == MIEN_OK)
    st = call_with_photo(svc, "SearchFacesByImage",
                         "{\"CollectionId\":\"example\",\"FaceMatchThreshold\":80}", argv[2], 1,
                         err, sizeof err);
  mien_service_close(svc);
  return st == MIEN_OK ? 0 : failed("search", st, err);
}
