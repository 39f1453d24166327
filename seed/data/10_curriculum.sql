-- The Python curriculum: 8 modules x 3 topics, difficulty rising, and a starter exercise per module.
-- Idempotent: rows are keyed by slug and inserted only when missing (ON CONFLICT DO NOTHING), so a
-- re-run adds nothing and never overwrites a row an operator has edited.

INSERT INTO topics (slug, module_number, module_name, position, name, difficulty, description)
VALUES
  ('variables-and-data-types', 1, 'Basics', 1, 'Variables and Data Types', 1, 'Names, values and the built-in types: int, float, str, bool.'),
  ('input-and-output', 1, 'Basics', 2, 'Input and Output', 1, 'Reading input(), printing with print() and f-strings.'),
  ('operators', 1, 'Basics', 3, 'Operators', 1, 'Arithmetic, comparison, logical and membership operators.'),
  ('conditionals', 2, 'Control Flow', 1, 'Conditionals', 1, 'if, elif and else; truthiness.'),
  ('for-loops', 2, 'Control Flow', 2, 'For Loops', 2, 'Iterating with for, range() and enumerate().'),
  ('while-loops', 2, 'Control Flow', 3, 'While Loops', 2, 'Loops with conditions, break and continue.'),
  ('lists', 3, 'Data Structures', 1, 'Lists', 2, 'Creating, indexing, slicing and mutating lists.'),
  ('dictionaries', 3, 'Data Structures', 2, 'Dictionaries', 2, 'Key-value mappings and iterating over them.'),
  ('tuples-and-sets', 3, 'Data Structures', 3, 'Tuples and Sets', 2, 'Immutable sequences and unique collections.'),
  ('defining-functions', 4, 'Functions', 1, 'Defining Functions', 2, 'def, calling functions and docstrings.'),
  ('parameters-and-return', 4, 'Functions', 2, 'Parameters and Return', 3, 'Positional, keyword and default arguments; return values.'),
  ('scope', 4, 'Functions', 3, 'Scope', 3, 'Local, enclosing, global and built-in names.'),
  ('classes-and-objects', 5, 'OOP', 1, 'Classes and Objects', 3, 'class, __init__, attributes and methods.'),
  ('inheritance', 5, 'OOP', 2, 'Inheritance', 3, 'Subclasses, super() and method overriding.'),
  ('encapsulation', 5, 'OOP', 3, 'Encapsulation', 3, 'Naming conventions, properties and information hiding.'),
  ('reading-files', 6, 'Files', 1, 'Reading Files', 3, 'open(), with, and reading text line by line.'),
  ('writing-files', 6, 'Files', 2, 'Writing Files', 3, 'Writing and appending text safely.'),
  ('json-handling', 6, 'Files', 3, 'JSON Handling', 3, 'json.load, json.dump and round-tripping data.'),
  ('try-and-except', 7, 'Errors', 1, 'Try and Except', 3, 'Catching exceptions; else and finally.'),
  ('exception-types', 7, 'Errors', 2, 'Exception Types', 4, 'The built-in exception hierarchy and when each is raised.'),
  ('custom-exceptions', 7, 'Errors', 3, 'Custom Exceptions', 4, 'Defining and raising exceptions of your own.'),
  ('installing-packages', 8, 'Libraries', 1, 'Installing Packages', 4, 'pip, virtual environments and requirements files.'),
  ('working-with-apis', 8, 'Libraries', 2, 'Working with APIs', 4, 'HTTP requests and JSON responses.'),
  ('popular-libraries', 8, 'Libraries', 3, 'Popular Libraries', 4, 'A tour of collections, itertools, datetime and friends.')
ON CONFLICT (slug) DO NOTHING;

-- Exercises reference their topic by slug, so they land on whatever id the topic has in this database.
INSERT INTO exercises (slug, topic_id, title, description, starter_code, test_cases, difficulty, points)
SELECT e.slug, t.id, e.title, e.description, e.starter_code, e.test_cases::jsonb, e.difficulty, e.points
FROM (
  VALUES
    ('celsius-to-fahrenheit', 'operators', 'Celsius to Fahrenheit',
     'Write to_fahrenheit(celsius) returning celsius * 9 / 5 + 32.',
     E'def to_fahrenheit(celsius):\n    pass\n',
     '[{"input": [0], "expected": 32}, {"input": [100], "expected": 212}]', 1, 10),
    ('fizzbuzz', 'for-loops', 'FizzBuzz',
     'Return the FizzBuzz words for 1..n as a list of strings.',
     E'def fizzbuzz(n):\n    pass\n',
     '[{"input": [5], "expected": ["1", "2", "Fizz", "4", "Buzz"]}]', 2, 10),
    ('word-count', 'dictionaries', 'Word Count',
     'Return a dict mapping each word of the text to how often it occurs.',
     E'def word_count(text):\n    pass\n',
     '[{"input": ["a b a"], "expected": {"a": 2, "b": 1}}]', 2, 15),
    ('apply-discount', 'parameters-and-return', 'Apply a Discount',
     'Write apply_discount(price, percent=10) returning the discounted price rounded to 2 decimals.',
     E'def apply_discount(price, percent=10):\n    pass\n',
     '[{"input": [100], "expected": 90.0}, {"input": [80, 25], "expected": 60.0}]', 3, 15),
    ('bank-account', 'classes-and-objects', 'Bank Account',
     'Write a BankAccount class with deposit(amount), withdraw(amount) and a balance attribute.',
     E'class BankAccount:\n    pass\n',
     '[{"input": [], "expected": null}]', 3, 20),
    ('load-settings', 'json-handling', 'Load Settings',
     'Write load_settings(text) that parses a JSON object and returns its "theme" key, or "light".',
     E'import json\n\ndef load_settings(text):\n    pass\n',
     '[{"input": ["{\"theme\": \"dark\"}"], "expected": "dark"}, {"input": ["{}"], "expected": "light"}]', 3, 20),
    ('safe-divide', 'try-and-except', 'Safe Divide',
     'Write safe_divide(a, b) that returns a / b, or None when b is zero.',
     E'def safe_divide(a, b):\n    pass\n',
     '[{"input": [6, 3], "expected": 2.0}, {"input": [1, 0], "expected": null}]', 3, 15),
    ('top-n-words', 'popular-libraries', 'Top N Words',
     'Use collections.Counter to return the n most common words of a text, most common first.',
     E'from collections import Counter\n\ndef top_words(text, n):\n    pass\n',
     '[{"input": ["b a b c b a", 2], "expected": ["b", "a"]}]', 4, 25)
) AS e (slug, topic_slug, title, description, starter_code, test_cases, difficulty, points)
JOIN topics AS t ON t.slug = e.topic_slug
ON CONFLICT (slug) DO NOTHING;
