/* broker/route.c: to be written */
