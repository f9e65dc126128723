/* compare.c - is it the same person? `compare SOURCE TARGET` takes the largest face of SOURCE
 * and prints, for every face of TARGET, where it is and Rekognition's similarity (0..100; 80 and
 * above: CompareFaces' default threshold for a match).
 *
 *   cc compare.c $(pkg-config --cflags --libs mien) -o compare
 *
 * Like CompareFaces, no store is needed and nothing is kept. */
#include "example.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SOURCE TARGET\n", argv[0]);
    return 2;
  }
  size_t source_len, target_len;
  unsigned char *source = read_file(argv[1], &source_len);
  unsigned char *target = source ? read_file(argv[2], &target_len) : NULL;
  if (!target) return free(source), 1;

  mien_service *svc;
  char err[512];
  mien_status st = open_without_store(&svc, err, sizeof err);
  if (st == MIEN_OK) {
    mien_face_detail source_face;
    mien_face_match *matches;
    int n;
    st = mien_service_compare(svc, source, source_len, target, target_len, &source_face, &matches,
                              &n, err, sizeof err);
    if (st == MIEN_OK) {
      printf("source face: left %.3f top %.3f width %.3f height %.3f\n", source_face.left,
             source_face.top, source_face.width, source_face.height);
      for (int i = 0; i < n; i++)
        printf("target face %d: left %.3f top %.3f similarity %.1f%s\n", i + 1,
               matches[i].face.left, matches[i].face.top, matches[i].similarity,
               matches[i].similarity >= 80 ? " (same person)" : "");
      mien_free(matches);
    }
    mien_service_close(svc);
  }
  free(source);
  free(target);
  return st == MIEN_OK ? 0 : failed("compare", st, err);
}
