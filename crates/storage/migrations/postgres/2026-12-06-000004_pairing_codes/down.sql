DROP TABLE pairing_codes;
