/* The C-variadic exports of libsockshim.so. Stable Rust cannot define a
 * C-variadic function, so these read the single optional argument (always
 * passed in an integer register or stack slot of pointer width on the ABIs
 * we support) and call fixed-signature Rust functions in lib.rs.
 * No libc header is included: their declarations of fcntl may be redirected
 * to fcntl64 and would clash with these definitions. */

#include <stdarg.h>

extern int sockshim_fcntl(int fd, int cmd, unsigned long arg);
extern int sockshim_ioctl(int fd, unsigned long request, unsigned long arg);

int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return sockshim_fcntl(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return sockshim_fcntl(fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return sockshim_ioctl(fd, request, arg);
}
