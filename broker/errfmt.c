/* broker/errfmt.c: to be written */
