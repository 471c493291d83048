/* printf_attr.h - BROKER_PRINTF(fmt, first): printf-style format checking.
 * mingw-w64's "printf" archetype is the Microsoft one (no %zu); with
 * __USE_MINGW_ANSI_STDIO our printf is the C99 one, so check as gnu_printf.
 * (broker/plugin.h carries the same guarded definition for plugins.) */
#ifndef BROKER_PRINTF
#if defined(__MINGW32__)
#define BROKER_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define BROKER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif
#endif
