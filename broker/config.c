/* broker/config.c: to be written */
