DROP TABLE store_ca;
