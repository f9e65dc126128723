/* test_store.h - a fresh, empty store for an in-process test fixture. Where $MIEN_TEST_STORE
 * names a PostgreSQL database (tests/pg.sh run sets it to its throwaway cluster's database: the
 * *_pg ctest cases), that database is emptied first (its schema dropped; mien_store_open makes
 * it again); otherwise a new temporary directory. Either way each fixture gets a store no earlier
 * one wrote to. A test-only variable, not $MIEN_STORE, so that a developer's own store in the
 * environment is never the one emptied. */
#ifndef MIEN_TEST_STORE_H
#define MIEN_TEST_STORE_H

#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "store/sql.h"

/* Puts the location of an empty store in loc (cap bytes); prefix names a temporary directory. */
static void test_store_fresh(char *loc, size_t cap, const char *prefix) {
  const char *pg = getenv("MIEN_TEST_STORE");
  if (pg && db_location_is_pg(pg)) {
    char msg[512];
    db_conn *c = db_pg_open(pg, msg, sizeof msg);
    CHECK_MSG(c != NULL, "%s", msg);
    if (c) {
      CHECK(db_pg_exec_script(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public") == 0);
      db_conn_close(c);
    }
    snprintf(loc, cap, "%s", pg);
    return;
  }
  snprintf(loc, cap, "/tmp/%s-XXXXXX", prefix);
  CHECK(mkdtemp(loc) != NULL);
}

/* Removes a store of test_store_fresh (a database is left: the cluster goes with the test). */
static void test_store_remove(const char *loc) {
  if (db_location_is_pg(loc)) return;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", loc);
  CHECK(system(cmd) == 0);
}

#endif
