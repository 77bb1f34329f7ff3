DROP TABLE consumer_cursors;
