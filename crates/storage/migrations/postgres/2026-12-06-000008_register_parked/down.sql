DROP TABLE register_parked;
