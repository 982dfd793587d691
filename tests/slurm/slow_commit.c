// Test-only fault injection, loaded with LD_PRELOAD into kollektiv by tests/slurm/run.sh:
// holds every checkpoint commit (rank 0's rename of checkpoints/ckpt_*.h5.tmp onto its
// final name) for KOLLEKTIV_TEST_COMMIT_DELAY_S seconds, so that the test can signal or
// kill a job while a checkpoint write is in progress, not only hope to hit one. Signals
// that arrive meanwhile run their handlers and the wait goes on, as a slow disk would.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int is_checkpoint_temporary(const char* path) {
  const char* base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const size_t n = strlen(base);
  return strncmp(base, "ckpt_", 5) == 0 && n > 12 && strcmp(base + n - 7, ".h5.tmp") == 0;
}

int rename(const char* from, const char* to) {
  static int (*real_rename)(const char*, const char*) = NULL;
  if (!real_rename) real_rename = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "rename");
  if (is_checkpoint_temporary(from)) {
    const char* delay = getenv("KOLLEKTIV_TEST_COMMIT_DELAY_S");
    struct timespec left = {delay ? atoi(delay) : 0, 0};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
  }
  return real_rename(from, to);
}
