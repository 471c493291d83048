/* broker/log.c: to be written */
