/*
 * plugins/common/win32_plugin_init.c - linked into every plugin DLL on
 * Windows (Makefile.am: PLUGIN_PLATFORM_LIBADD).
 *
 * The Windows dependencies are static libraries, so each DLL carries its own
 * copy of libevent, with its own (unset) lock callbacks.  The event_base a
 * plugin uses was made by the core's copy, thread-enabled with Windows
 * critical sections; a plugin's event_add/event_active on it must take the
 * same locks, or it races with threads that post to the loop.  So this
 * DLL's copy is set up the same way when the DLL loads.
 */
#include <config.h>

#include <event2/thread.h>

__attribute__((constructor)) static void plugin_event_threads(void)
{
	evthread_use_windows_threads();
}
