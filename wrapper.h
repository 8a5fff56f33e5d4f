/*
 * wrapper.h: every C header readyio's syscall layer is generated from.
 *
 * build.rs runs bindgen over this file (feature `generate`) and keeps only the names
 * it allowlists. Nothing here defines _GNU_SOURCE: on glibc that turns the sockaddr
 * arguments of bind/connect into a transparent union, so the two GNU extensions we
 * need are declared by hand below with their documented prototypes.
 */

#if defined(__linux__) && __SIZEOF_POINTER__ == 4
/*
 * 32-bit Linux: a 64-bit time_t, so that no struct carrying time overflows in 2038. glibc
 * (2.34+) offers it with _TIME_BITS=64, which requires _FILE_OFFSET_BITS=64, and then
 * redirects every call whose ABI carries time or offsets (setsockopt, getsockopt, sendmsg,
 * recvmsg, fcntl, ...) to its 64-bit symbol (__setsockopt64, __fcntl_time64, ...);
 * bindgen records each redirect as the function's #[link_name]. musl has had a 64-bit
 * time_t on every arch since 1.2, and 64-bit ABIs always had one: there these are no-ops.
 */
#define _FILE_OFFSET_BITS 64
#define _TIME_BITS 64
#endif

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <linux/time_types.h>

/* GNU extensions, declared here instead of defining _GNU_SOURCE (see above). */
int pipe2(int pipefd[2], int flags);
int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

#if defined(READYIO_LIBKQUEUE)
/* The kqueue backend run on Linux over libkqueue (build.rs, `--cfg readyio_libkqueue`):
 * libkqueue's own <sys/event.h>, found in its build folder. */
#include <sys/event.h>
#endif
#else
/* macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly: kqueue. */
#include <sys/event.h>
#include <sys/time.h>
#endif

#if defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__)
/* The BSDs declare these under __BSD_VISIBLE, which the default environment enables;
 * the declarations are repeated so a strict environment still finds them. */
int pipe2(int pipefd[2], int flags);
int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
#endif
