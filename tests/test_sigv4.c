/* test_sigv4.c - the server's authentication without a socket: SigV4 against AWS's published
 * example (canonical request, signing key, signature) and against a request signed by botocore;
 * every refusal sigv4_verify can give (no header, unknown key, wrong secret, tampered body or
 * target, wrong region, service or terminator, expired and future dates, unsigned host or
 * target, malformed header); and the access keys file (`mien keys`): key format, mode 0600,
 * add/delete, a file others can read is refused. */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mien.h"
#include "server/sigv4.h"

/* AWS's example: GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08 at
 * 20150830T123600Z, secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, iam. */
static void test_aws_example(void) {
  srv_kv h[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                {"Host", "iam.amazonaws.com"},
                {"X-Amz-Date", "20150830T123600Z"}};
  srv_kv q[] = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}}; /* sorted by the signer */
  srv_request rq = {
      .method = "GET", .path = "/", .query = q, .nquery = 2, .headers = h, .nheaders = 3};
  char *creq = sigv4_canonical_request(&rq, "content-type;host;x-amz-date");
  CHECK(creq != NULL);
  const char *want = "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                     "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                     "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                     "content-type;host;x-amz-date\n"
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  CHECK_MSG(creq && !strcmp(creq, want), "canonical request:\n%s", creq ? creq : "(null)");
  uint8_t key[32];
  sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam",
                    key);
  char hx[65];
  for (int i = 0; i < 32; i++) sprintf(hx + 2 * i, "%02x", key[i]);
  CHECK(!strcmp(hx, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"));
  char sig[65];
  sigv4_signature(key, "20150830T123600Z", "20150830/us-east-1/iam/aws4_request", creq ? creq : "",
                  sig);
  CHECK(!strcmp(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"));
  free(creq);
}

/* ---- verification ---- */

static const char *const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static const char *const key_id = "AKIAIOSFODNN7EXAMPLE";

static int lookup(void *ctx, const char *id, char *out, size_t len) {
  (void)ctx;
  if (strcmp(id, key_id)) return -1;
  snprintf(out, len, "%s", secret);
  return 0;
}

/* A rekognition POST as botocore builds it; headers[4] is Authorization. */
typedef struct {
  srv_kv h[6];
  char auth[512];
  srv_request rq;
} signed_req;

static const char body[] = "{\"CollectionId\":\"album\",\"MaxResults\":10}";

static void make(signed_req *s, const char *amz_date, const char *authorization) {
  memset(s, 0, sizeof *s);
  snprintf(s->auth, sizeof s->auth, "%s", authorization);
  s->h[0] = (srv_kv){"Content-Type", "application/x-amz-json-1.1"};
  s->h[1] = (srv_kv){"X-Amz-Target", "RekognitionService.ListFaces"};
  s->h[2] = (srv_kv){"X-Amz-Date", amz_date};
  s->h[3] = (srv_kv){"Host", "127.0.0.1:8080"};
  s->h[4] = (srv_kv){"Authorization", s->auth};
  s->rq = (srv_request){.method = "POST",
                        .path = "/",
                        .headers = s->h,
                        .nheaders = 5,
                        .body = (const uint8_t *)body,
                        .body_len = strlen(body)};
}

/* Signs s (its headers as they are) for region/service at amz_date with secret sec. */
static void sign(signed_req *s, const char *amz_date, const char *region, const char *service,
                 const char *sec, const char *signed_headers) {
  char date[9], scope[128], sig[65];
  snprintf(date, sizeof date, "%.8s", amz_date);
  snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, region, service);
  uint8_t key[32];
  sigv4_signing_key(sec, date, region, service, key);
  char *creq = sigv4_canonical_request(&s->rq, signed_headers);
  CHECK(creq != NULL);
  sigv4_signature(key, amz_date, scope, creq ? creq : "", sig);
  free(creq);
  snprintf(s->auth, sizeof s->auth,
           "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", key_id, scope,
           signed_headers, sig);
}

static time_t at(const char *amz_date) {
  struct tm tm = {0};
  sscanf(amz_date, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
         &tm.tm_min, &tm.tm_sec);
  tm.tm_year -= 1900, tm.tm_mon -= 1;
  return timegm(&tm);
}

static sigv4_result verify(signed_req *s, time_t now, const char *region, char *msg) {
  char id[SIGV4_KEY_ID_MAX + 1];
  return sigv4_verify(&s->rq, region, "rekognition", now, lookup, NULL, id, msg, 512);
}

static const char *const all = "content-type;host;x-amz-date;x-amz-target";

static void test_botocore_vector(void) {
  /* Signed by botocore 1.29 (SigV4Auth, rekognition, eu-west-1) for this exact request. */
  const char *d = "20261125T204906Z";
  signed_req s;
  make(&s, d,
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261125/eu-west-1/rekognition/"
       "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
       "Signature=4d689efe26d9e7ddd113f6f27c3bb269972cdeafe789d58e1ad67b66a5b103da");
  char msg[512] = "", id[SIGV4_KEY_ID_MAX + 1];
  CHECK_MSG(sigv4_verify(&s.rq, "eu-west-1", "rekognition", at(d) + 60, lookup, NULL, id, msg,
                         sizeof msg) == SIGV4_OK,
            "%s", msg);
  CHECK(!strcmp(id, key_id));
  /* The same bytes, one changed: the body. */
  s.rq.body_len--;
  CHECK(verify(&s, at(d), "eu-west-1", msg) == SIGV4_INVALID);
  CHECK(strstr(msg, "does not match") != NULL);
}

static void test_refusals(void) {
  const char *d = "20240501T120000Z";
  time_t now = at(d);
  char msg[512];
  signed_req s;

  make(&s, d, "");
  sign(&s, d, "us-east-1", "rekognition", secret, all);
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_OK);
  /* Header names in any case, values with extra spaces: the same canonical form. */
  s.h[0] = (srv_kv){"content-TYPE", "  application/x-amz-json-1.1  "};
  CHECK_MSG(verify(&s, now, "us-east-1", msg) == SIGV4_OK, "%s", msg);

  s.rq.nheaders = 4; /* no Authorization */
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_MISSING);
  CHECK(!strcmp(msg, "Missing Authentication Token"));

  make(&s, d, "");
  sign(&s, d, "us-east-1", "rekognition", "not the secret", all);
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);

  make(&s, d, "");
  sign(&s, d, "us-east-1", "rekognition", secret, all);
  s.auth[strlen("AWS4-HMAC-SHA256 Credential=AKIA")] = 'X'; /* another key id */
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_UNKNOWN_KEY);
  CHECK(strstr(msg, "security token included in the request is invalid") != NULL);

  /* The operation is signed: another target with the same signature fails. */
  make(&s, d, "");
  sign(&s, d, "us-east-1", "rekognition", secret, all);
  s.h[1].value = "RekognitionService.DeleteCollection";
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);

  /* Scope: region, service. */
  make(&s, d, "");
  sign(&s, d, "eu-west-1", "rekognition", secret, all);
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);
  CHECK(strstr(msg, "region") != NULL);
  make(&s, d, "");
  sign(&s, d, "us-east-1", "s3", secret, all);
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);
  CHECK(strstr(msg, "'rekognition'") != NULL);

  /* Time: 15 minutes either way, and no further. */
  make(&s, d, "");
  sign(&s, d, "us-east-1", "rekognition", secret, all);
  CHECK(verify(&s, now + 15 * 60, "us-east-1", msg) == SIGV4_OK);
  CHECK(verify(&s, now - 15 * 60, "us-east-1", msg) == SIGV4_OK);
  CHECK(verify(&s, now + 15 * 60 + 1, "us-east-1", msg) == SIGV4_INVALID);
  CHECK(strstr(msg, "Signature expired: 20240501T120000Z is now earlier than") != NULL);
  CHECK(verify(&s, now - 15 * 60 - 1, "us-east-1", msg) == SIGV4_INVALID);
  CHECK(strstr(msg, "Signature not yet current") != NULL);

  /* host and x-amz-target must be signed, even when the signature over the rest is right. */
  make(&s, d, "");
  sign(&s, d, "us-east-1", "rekognition", secret, "content-type;host;x-amz-date");
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);
  make(&s, d, "");
  sign(&s, d, "us-east-1", "rekognition", secret, "content-type;x-amz-date;x-amz-target");
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);
  /* A signed header the request lacks. */
  make(&s, d,
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/rekognition/"
       "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-meta;x-amz-target, "
       "Signature=0000000000000000000000000000000000000000000000000000000000000000");
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);

  /* Malformed headers: each refused, none crashes. */
  static const char *const bad[] = {
      "Bearer abc",
      "AWS4-HMAC-SHA256",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/rekognition/"
      "aws4_request, SignedHeaders=host;x-amz-date",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE, SignedHeaders=host;x-amz-date, "
      "Signature=00",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/rekognition/x/y, "
      "SignedHeaders=host, Signature=00",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240502/us-east-1/rekognition/"
      "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/rekognition/"
      "aws4_request, SignedHeaders=;;, Signature=00",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    make(&s, d, bad[i]);
    CHECK_MSG(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID, "%s", bad[i]);
  }
  make(&s, "2024-05-01", ""); /* not ISO 8601 basic */
  sign(&s, "20240501T120000Z", "us-east-1", "rekognition", secret, all);
  CHECK(verify(&s, now, "us-east-1", msg) == SIGV4_INVALID);
}

/* ---- access keys in the store (mien.h's access-key calls) ---- */

typedef struct {
  const char *op;
  int n;
} op_count;

/* mien_service_audit_export's callback: counts the records of operation c->op. */
static int emit_count(void *ctx, const char *record) {
  op_count *c = ctx;
  char want[80];
  snprintf(want, sizeof want, "\"op\":\"%s\"", c->op);
  c->n += strstr(record, want) != NULL;
  return 0;
}

/* A service on data directory dir, with template key file key (NULL: none). */
static mien_service *open_keys(const char *dir, const char *key, char *err, size_t errlen) {
  mien_service_config cfg;
  mien_service_config_init(&cfg);
  cfg.store = dir;
  cfg.template_key = key;
  mien_service *svc = NULL;
  if (!key) unsetenv("MIEN_TEMPLATE_KEY"); /* the service sets it process-wide when given */
  mien_service_open(&cfg, &svc, err, errlen);
  return svc;
}

/* Whether the bytes of needle appear in dir's database files (mien.db and its WAL). */
static int in_db_files(const char *dir, const char *needle) {
  static const char *const files[] = {"mien.db", "mien.db-wal"};
  int found = 0;
  for (int i = 0; i < 2; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t j = 0; j + strlen(needle) <= n && !found; j++)
      found = !memcmp(buf + j, needle, strlen(needle));
  }
  return found;
}

static int has_secret(mien_service *svc, const char *id, const char *want) {
  char secret[MIEN_ACCESS_KEY_SECRET_LEN + 1], err[512];
  int found = 0;
  return mien_service_access_key_secret(svc, id, secret, &found, err, sizeof err) == MIEN_OK &&
         found && (!want || !strcmp(secret, want));
}

static int count_records(const char *op, mien_service *svc) {
  op_count c = {op, 0};
  char err[512];
  mien_service_audit_export(svc, 0, emit_count, &c, err, sizeof err);
  return c.n;
}

static void test_keys(void) {
  char dir[] = "/tmp/mien_test_keys_XXXXXX", sub[64], path[128], keyfile[128], err[512];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(sub, sizeof sub, "%s/data", dir);
  mien_service *svc = open_keys(sub, NULL, err, sizeof err);
  CHECK_MSG(svc != NULL, "%s", err);
  if (!svc) return;
  int64_t n = -1;
  CHECK(mien_service_access_key_count(svc, &n, err, sizeof err) == MIEN_OK && n == 0);

  mien_access_key a, b;
  char sa[MIEN_ACCESS_KEY_SECRET_LEN + 1], sb_[MIEN_ACCESS_KEY_SECRET_LEN + 1];
  CHECK(mien_service_access_key_add(svc, "alice", &a, sa, err, sizeof err) == MIEN_OK);
  CHECK(mien_service_access_key_add(svc, "bob@example.com", &b, sb_, err, sizeof err) == MIEN_OK);
  CHECK(strlen(a.id) == 20 && !strncmp(a.id, "AKIA", 4) &&
        strspn(a.id + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == 16);
  CHECK(strlen(sa) == 40 && strcmp(sa, sb_) && strcmp(a.id, b.id) && strlen(a.created) == 20);
  mien_access_key c;
  char sc[MIEN_ACCESS_KEY_SECRET_LEN + 1];
  CHECK(mien_service_access_key_add(svc, "no spaces", &c, sc, err, sizeof err) ==
        MIEN_ERR_INVALID_PARAMETER);
  CHECK(mien_service_access_key_add(svc, "", &c, sc, err, sizeof err) ==
        MIEN_ERR_INVALID_PARAMETER);
  CHECK(has_secret(svc, a.id, sa) && has_secret(svc, b.id, sb_) &&
        !has_secret(svc, "AKIANOSUCHKEY0000000", NULL));
  mien_access_key *list = NULL;
  int nl = 0;
  CHECK(mien_service_access_key_list(svc, &list, &nl, err, sizeof err) == MIEN_OK && nl == 2);
  /* Oldest first, but both may have been made within the clock's millisecond. */
  int alice = nl == 2 && !strcmp(list[0].id, a.id) ? 0 : 1;
  CHECK(nl == 2 && !strcmp(list[alice].id, a.id) && !strcmp(list[alice].user, "alice") &&
        !strcmp(list[1 - alice].id, b.id) && !strcmp(list[1 - alice].user, "bob@example.com"));
  mien_free(list);
  CHECK(in_db_files(sub, sa)); /* no template key: stored as the templates are, plain */
  CHECK(count_records("CreateAccessKey", svc) == 2);

  /* Another process's deletion is seen at once, also with a second store open on the same
   * directory in this process (whose opening once dropped the first one's SQLite locks). */
  mien_service *svc2 = open_keys(sub, NULL, err, sizeof err);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "'%s/mien' --data '%s' keys delete %s",
           getenv("MIEN_BUILD") ? getenv("MIEN_BUILD") : "build", sub, b.id);
  CHECK(svc2 && system(cmd) == 0);
  CHECK_MSG(!has_secret(svc, b.id, NULL), "another process's deletion seen");
  CHECK(mien_service_access_key_add(svc, "bob@example.com", &b, sb_, err, sizeof err) == MIEN_OK);
  mien_service_close(svc2);

  CHECK(mien_service_access_key_delete(svc, a.id, err, sizeof err) == MIEN_OK);
  CHECK(mien_service_access_key_delete(svc, a.id, err, sizeof err) == MIEN_ERR_RESOURCE_NOT_FOUND);
  CHECK(!has_secret(svc, a.id, NULL) && has_secret(svc, b.id, sb_));
  CHECK(count_records("DeleteAccessKey", svc) == 2);
  CHECK_MSG(!in_db_files(sub, sa), "a deleted key's secret is erased"); /* secure_delete + WAL */
  mien_service_close(svc);

  /* A template key seals the secrets: an existing plain one at adoption, new ones as added. */
  snprintf(keyfile, sizeof keyfile, "%s/template.key", dir);
  CHECK(mien_template_key_create(keyfile, err, sizeof err) == MIEN_OK);
  svc = open_keys(sub, keyfile, err, sizeof err);
  CHECK_MSG(svc != NULL, "%s", err);
  if (svc) {
    CHECK(has_secret(svc, b.id, sb_));
    CHECK(mien_service_access_key_add(svc, "carol", &c, sc, err, sizeof err) == MIEN_OK);
    CHECK(has_secret(svc, c.id, sc));
    CHECK_MSG(!in_db_files(sub, sb_) && !in_db_files(sub, sc), "secrets sealed at rest");
    char newkey[160];
    snprintf(newkey, sizeof newkey, "%s/template2.key", dir);
    int64_t rotated = -1;
    CHECK(mien_template_key_create(newkey, err, sizeof err) == MIEN_OK);
    CHECK(mien_service_rotate_template_key(svc, newkey, &rotated, err, sizeof err) == MIEN_OK);
    mien_service_close(svc);
    svc = open_keys(sub, newkey, err, sizeof err);
    CHECK_MSG(svc && has_secret(svc, b.id, sb_) && has_secret(svc, c.id, sc),
              "keys open with the rotated key");
    mien_service_close(svc);
  }

  /* A data directory's keys.json from before is imported at open, then removed. */
  snprintf(sub, sizeof sub, "%s/old", dir);
  CHECK(mkdir(sub, 0700) == 0);
  snprintf(path, sizeof path, "%s/keys.json", sub);
  const char *old_secret = "abcdefghijABCDEFGHIJ0123456789+/abcdefgh";
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f)
    fprintf(f,
            "{\"AccessKeys\":[{\"UserName\":\"dave\",\"AccessKeyId\":\"AKIAOLDKEY0000000000\","
            "\"SecretAccessKey\":\"%s\",\"Status\":\"Active\",\"CreateDate\":"
            "\"2024-05-01T12:00:00Z\"}]}\n",
            old_secret),
        fclose(f);
  CHECK(chmod(path, 0644) == 0); /* others may read it: refused, as ssh refuses such a key */
  CHECK(open_keys(sub, NULL, err, sizeof err) == NULL && strstr(err, "chmod 600"));
  CHECK(chmod(path, 0600) == 0);
  svc = open_keys(sub, NULL, err, sizeof err);
  CHECK_MSG(svc != NULL, "%s", err);
  if (svc) {
    CHECK(has_secret(svc, "AKIAOLDKEY0000000000", old_secret));
    CHECK(mien_service_access_key_list(svc, &list, &nl, err, sizeof err) == MIEN_OK && nl == 1 &&
          !strcmp(list[0].created, "2024-05-01T12:00:00Z") && !strcmp(list[0].user, "dave"));
    mien_free(list);
    CHECK(count_records("ImportAccessKeys", svc) == 1);
    mien_service_close(svc);
  }
  CHECK_MSG(access(path, F_OK) != 0, "keys.json removed after its import");
  /* A malformed file stops the open rather than losing keys. */
  f = fopen(path, "w");
  if (f) fputs("{\"AccessKeys\":[{\"AccessKeyId\":\"short\"}]}", f), fclose(f);
  chmod(path, 0600);
  CHECK(open_keys(sub, NULL, err, sizeof err) == NULL);

  unsetenv("MIEN_TEMPLATE_KEY");
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

int main(void) {
  RUN(test_aws_example);
  RUN(test_botocore_vector);
  RUN(test_refusals);
  RUN(test_keys);
  return check_summary();
}
