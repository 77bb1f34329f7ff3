DROP TABLE agent_link;
DROP TABLE register_marks;
