/*
 * version: compares the version macros of the header it was compiled with against the
 * version of the library it runs with; exits 1 when they differ.
 */
#include <stdio.h>
#include <string.h>

#include "s3os.h"

int main(void) {
    char from_numbers[64];
    snprintf(from_numbers, sizeof from_numbers, "%d.%d.%d", S3OS_VERSION_MAJOR,
             S3OS_VERSION_MINOR, S3OS_VERSION_PATCH);
    printf("header %s (%s), library %s\n", S3OS_VERSION_STRING, from_numbers, s3os_version());
    return strcmp(S3OS_VERSION_STRING, s3os_version()) == 0 &&
                   strcmp(from_numbers, s3os_version()) == 0
               ? 0
               : 1;
}
