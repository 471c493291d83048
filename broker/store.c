/* broker/store.c: to be written */
