/* broker/url.c: to be written */
