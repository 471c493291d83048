/* broker/http.c: to be written */
