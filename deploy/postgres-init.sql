-- A database per service: each СФЕ owns its data (DESIGN.md); none reads another's tables.
CREATE DATABASE portal;
CREATE DATABASE gateway;
CREATE DATABASE arm;
CREATE DATABASE gbd_fl;
CREATE DATABASE signature;
