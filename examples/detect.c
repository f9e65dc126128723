/* detect.c - the faces of a photo: `detect PHOTO` prints each face's box (ratios of the image),
 * confidence, head pose and quality, largest face first, then how many there are.
 *
 *   cc detect.c $(pkg-config --cflags --libs mien) -o detect
 *
 * Detection needs no store, so the service is opened without one: nothing is written. */
#include "example.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PHOTO\n", argv[0]);
    return 2;
  }
  size_t len;
  unsigned char *photo = read_file(argv[1], &len);
  if (!photo) return 1;

  mien_service *svc;
  char err[512];
  mien_status st = open_without_store(&svc, err, sizeof err);
  if (st != MIEN_OK) return free(photo), failed("open", st, err);

  mien_face_detail *faces;
  int n;
  st = mien_service_detect(svc, photo, len, &faces, &n, err, sizeof err);
  if (st == MIEN_OK) {
    for (int i = 0; i < n; i++) {
      const mien_face_detail *f = &faces[i];
      printf("face %d: left %.3f top %.3f width %.3f height %.3f confidence %.1f", i + 1, f->left,
             f->top, f->width, f->height, f->confidence);
      if (f->has_landmarks)
        printf(" yaw %.0f pitch %.0f roll %.0f sharpness %.0f", f->yaw, f->pitch, f->roll,
               f->sharpness);
      printf("\n");
    }
    printf("%d faces\n", n);
    mien_free(faces);
  }
  mien_service_close(svc);
  free(photo);
  return st == MIEN_OK ? 0 : failed(argv[1], st, err);
}
