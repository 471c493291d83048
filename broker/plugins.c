/* broker/plugins.c: to be written */
