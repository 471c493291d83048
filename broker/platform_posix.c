/* broker/platform_posix.c: to be written */
