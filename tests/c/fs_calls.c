/*
 * Preloaded (LD_PRELOAD) into a program to watch how a download reaches the disk: logs each
 * fdatasync, fsync, rename, renameat2 and linkat, with the paths involved, to the file named
 * by S3OS_FS_LOG. Two more variables change what the file system does:
 *   S3OS_FS_NO_LINKS=1   hard links fail with EPERM, as on file systems without them;
 *   S3OS_FS_RACE=<path>  a file appears at <path> just before any rename onto it, as when
 *                        another process writes the target during the download.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void log_line(const char *what, const char *a, const char *b) {
    const char *log = getenv("S3OS_FS_LOG");
    if (!log) return;
    char line[8192];
    int n = snprintf(line, sizeof line, "%s %s%s%s\n", what, a, b ? " " : "", b ? b : "");
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return;
    if (n > 0) {
        ssize_t written = write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)written;
    }
    close(fd);
}

static void log_fd(const char *what, int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    log_line(what, path, NULL);
}

static void race(const char *target) {
    const char *racing = getenv("S3OS_FS_RACE");
    if (!racing || strcmp(racing, target) != 0) return;
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return;
    const char text[] = "written by another process";
    ssize_t written = write(fd, text, sizeof text - 1);
    (void)written;
    close(fd);
    log_line("raced", target, NULL);
}

int fdatasync(int fd) {
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    log_fd("fdatasync", fd);
    return real(fd);
}

int fsync(int fd) {
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    log_fd("fsync", fd);
    return real(fd);
}

int rename(const char *from, const char *to) {
    int (*real)(const char *, const char *) =
        (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    race(to);
    log_line("rename", from, to);
    return real(from, to);
}

int renameat2(int from_dir, const char *from, int to_dir, const char *to, unsigned int flags) {
    int (*real)(int, const char *, int, const char *, unsigned int) =
        (int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT, "renameat2");
    race(to);
    log_line(flags ? "renameat2-noreplace" : "renameat2", from, to);
    return real(from_dir, from, to_dir, to, flags);
}

int linkat(int from_dir, const char *from, int to_dir, const char *to, int flags) {
    int (*real)(int, const char *, int, const char *, int) =
        (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
    const char *no_links = getenv("S3OS_FS_NO_LINKS");
    if (no_links && strcmp(no_links, "1") == 0) {
        log_line("linkat-refused", from, to);
        errno = EPERM;
        return -1;
    }
    log_line("linkat", from, to);
    return real(from_dir, from, to_dir, to, flags);
}
