/* broker/ctl_service.c: to be written */
