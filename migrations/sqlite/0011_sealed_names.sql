-- Names and birth dates are encrypted at rest like ID numbers and phones (issue 21).
-- The in-memory index needs only the year and month of birth (ages for the population
-- model), kept here in the clear as YYYYMM; the full date and the name are sealed by the
-- application: new imports seal them, and rows stored before this migration are sealed
-- at the next start (`personal::seal_plain_names`) or by `minqing rotate-key`.
ALTER TABLE residents ADD COLUMN birth_ym INTEGER;
UPDATE residents
   SET birth_ym = CAST(substr(birth_date, 1, 4) AS INTEGER) * 100
                + CAST(substr(birth_date, 6, 2) AS INTEGER)
 WHERE birth_date NOT LIKE 'enc1:%';
