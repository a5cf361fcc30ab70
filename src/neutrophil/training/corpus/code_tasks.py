"""Training-only coding tasks with reference solutions and tests, written for this project.

None of these functions is in the evaluation suite (`tasks/data/code.jsonl`); a test
checks the names are disjoint. Every solution is run against its tests in the sandbox
before it becomes a trajectory (see `trajectories.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeExercise:
    entry_point: str
    prompt: str
    solution: str
    tests: str


def _ex(entry: str, prompt: str, solution: str, tests: str) -> CodeExercise:
    return CodeExercise(entry, prompt, solution.strip() + "\n", tests.strip() + "\n")


EXERCISES: tuple[CodeExercise, ...] = (
    _ex(
        "count_vowels",
        "Write a Python function `count_vowels(s: str) -> int` that returns how many vowels (a, e, i, o, u, either case) the string contains.",
        """
def count_vowels(s: str) -> int:
    return sum(1 for ch in s.lower() if ch in "aeiou")
""",
        """
assert count_vowels("Hello World") == 3
assert count_vowels("") == 0
assert count_vowels("AEIOUxyz") == 5
""",
    ),
    _ex(
        "celsius_to_fahrenheit",
        "Please write `celsius_to_fahrenheit(c: float) -> float` in Python, converting a Celsius temperature to Fahrenheit.",
        """
def celsius_to_fahrenheit(c: float) -> float:
    return c * 9 / 5 + 32
""",
        """
assert celsius_to_fahrenheit(0) == 32
assert celsius_to_fahrenheit(100) == 212
assert abs(celsius_to_fahrenheit(-40) + 40) < 1e-9
""",
    ),
    _ex(
        "sum_digits",
        "I need a Python function `sum_digits(n: int) -> int` that returns the sum of the decimal digits of an integer (ignore the sign).",
        """
def sum_digits(n: int) -> int:
    return sum(int(d) for d in str(abs(n)))
""",
        """
assert sum_digits(1234) == 10
assert sum_digits(-56) == 11
assert sum_digits(0) == 0
""",
    ),
    _ex(
        "gcd",
        "Can you write `gcd(a: int, b: int) -> int` in Python that returns the greatest common divisor of two non-negative integers, using Euclid's algorithm?",
        """
def gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
""",
        """
assert gcd(12, 18) == 6
assert gcd(17, 5) == 1
assert gcd(0, 9) == 9
assert gcd(9, 0) == 9
""",
    ),
    _ex(
        "factorial",
        "Write a Python function `factorial(n: int) -> int` that returns n! for n >= 0 and raises ValueError for negative n.",
        """
def factorial(n: int) -> int:
    if n < 0:
        raise ValueError("n must be non-negative")
    result = 1
    for k in range(2, n + 1):
        result *= k
    return result
""",
        """
assert factorial(0) == 1
assert factorial(5) == 120
try:
    factorial(-1)
    raise AssertionError("expected ValueError")
except ValueError:
    pass
""",
    ),
    _ex(
        "is_sorted",
        "Please write `is_sorted(items: list) -> bool` that tells whether a list is in non-decreasing order.",
        """
def is_sorted(items: list) -> bool:
    return all(a <= b for a, b in zip(items, items[1:]))
""",
        """
assert is_sorted([1, 2, 2, 5]) is True
assert is_sorted([3, 1]) is False
assert is_sorted([]) is True
""",
    ),
    _ex(
        "clamp",
        "Write a Python function `clamp(x: float, lo: float, hi: float) -> float` that limits x to the range [lo, hi].",
        """
def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))
""",
        """
assert clamp(5, 0, 10) == 5
assert clamp(-3, 0, 10) == 0
assert clamp(42, 0, 10) == 10
""",
    ),
    _ex(
        "median",
        "I need `median(values: list[float]) -> float` in Python: the median of a non-empty list (mean of the two middle values when the length is even).",
        """
def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    if len(s) % 2:
        return s[mid]
    return (s[mid - 1] + s[mid]) / 2
""",
        """
assert median([3, 1, 2]) == 2
assert median([4, 1, 3, 2]) == 2.5
assert median([7]) == 7
""",
    ),
    _ex(
        "running_total",
        "Can you write `running_total(nums: list[int]) -> list[int]` that returns the cumulative sums of a list?",
        """
def running_total(nums: list[int]) -> list[int]:
    out, total = [], 0
    for n in nums:
        total += n
        out.append(total)
    return out
""",
        """
assert running_total([1, 2, 3]) == [1, 3, 6]
assert running_total([]) == []
assert running_total([5, -5, 2]) == [5, 0, 2]
""",
    ),
    _ex(
        "capitalize_words",
        "Write a Python function `capitalize_words(s: str) -> str` that upper-cases the first letter of every space-separated word and lower-cases the rest.",
        """
def capitalize_words(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in s.split(" "))
""",
        """
assert capitalize_words("hello wORLD") == "Hello World"
assert capitalize_words("a") == "A"
assert capitalize_words("") == ""
""",
    ),
    _ex(
        "is_power_of_two",
        "Please write `is_power_of_two(n: int) -> bool` in Python, true when n is a positive power of two.",
        """
def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0
""",
        """
assert is_power_of_two(1) is True
assert is_power_of_two(64) is True
assert is_power_of_two(0) is False
assert is_power_of_two(12) is False
""",
    ),
    _ex(
        "count_set_bits",
        "Write `count_set_bits(n: int) -> int` that returns the number of 1 bits in the binary form of a non-negative integer.",
        """
def count_set_bits(n: int) -> int:
    return bin(n).count("1")
""",
        """
assert count_set_bits(0) == 0
assert count_set_bits(7) == 3
assert count_set_bits(1024) == 1
""",
    ),
    _ex(
        "longest_word",
        "I need a Python function `longest_word(s: str) -> str` returning the longest word in a sentence (the first one if there is a tie, empty string for no words).",
        """
def longest_word(s: str) -> str:
    best = ""
    for w in s.split():
        if len(w) > len(best):
            best = w
    return best
""",
        """
assert longest_word("the quick brown fox") == "quick"
assert longest_word("") == ""
assert longest_word("ab cd") == "ab"
""",
    ),
    _ex(
        "char_histogram",
        "Write `char_histogram(s: str) -> dict[str, int]` that counts how often each character appears, ignoring spaces.",
        """
def char_histogram(s: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in s:
        if ch != " ":
            counts[ch] = counts.get(ch, 0) + 1
    return counts
""",
        """
assert char_histogram("a b a") == {"a": 2, "b": 1}
assert char_histogram("") == {}
assert char_histogram("zz") == {"z": 2}
""",
    ),
    _ex(
        "triangular",
        "Can you write a Python function `triangular(n: int) -> int` that returns the n-th triangular number (1 + 2 + ... + n, and 0 for n = 0)?",
        """
def triangular(n: int) -> int:
    return n * (n + 1) // 2
""",
        """
assert triangular(0) == 0
assert triangular(1) == 1
assert triangular(10) == 55
""",
    ),
    _ex(
        "dot_product",
        "Please write `dot_product(a: list[float], b: list[float]) -> float` that returns the dot product of two equal-length vectors and raises ValueError if the lengths differ.",
        """
def dot_product(a: list[float], b: list[float]) -> float:
    if len(a) != len(b):
        raise ValueError("vectors must have the same length")
    return sum(x * y for x, y in zip(a, b))
""",
        """
assert dot_product([1, 2, 3], [4, 5, 6]) == 32
assert dot_product([], []) == 0
try:
    dot_product([1], [1, 2])
    raise AssertionError("expected ValueError")
except ValueError:
    pass
""",
    ),
    _ex(
        "days_in_month",
        "Write a Python function `days_in_month(year: int, month: int) -> int` that returns the number of days in a month, handling leap years.",
        """
def days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31
""",
        """
assert days_in_month(2023, 1) == 31
assert days_in_month(2024, 2) == 29
assert days_in_month(1900, 2) == 28
assert days_in_month(2023, 4) == 30
""",
    ),
    _ex(
        "acronym",
        "I need `acronym(phrase: str) -> str` in Python: the upper-cased first letters of each word, treating hyphens as word breaks.",
        """
def acronym(phrase: str) -> str:
    words = phrase.replace("-", " ").split()
    return "".join(w[0].upper() for w in words)
""",
        """
assert acronym("portable network graphics") == "PNG"
assert acronym("Complementary metal-oxide semiconductor") == "CMOS"
assert acronym("") == ""
""",
    ),
    _ex(
        "interleave",
        "Write `interleave(a: list, b: list) -> list` that alternates elements of two lists, appending the rest of the longer one at the end.",
        """
def interleave(a: list, b: list) -> list:
    out = []
    for i in range(max(len(a), len(b))):
        if i < len(a):
            out.append(a[i])
        if i < len(b):
            out.append(b[i])
    return out
""",
        """
assert interleave([1, 3], [2, 4]) == [1, 2, 3, 4]
assert interleave([1], [2, 3, 4]) == [1, 2, 3, 4]
assert interleave([], []) == []
""",
    ),
    _ex(
        "is_isogram",
        "Can you write a Python function `is_isogram(word: str) -> bool` that is true when no letter repeats (case-insensitive; hyphens and spaces may repeat)?",
        """
def is_isogram(word: str) -> bool:
    letters = [ch.lower() for ch in word if ch.isalpha()]
    return len(letters) == len(set(letters))
""",
        """
assert is_isogram("lumberjack") is True
assert is_isogram("Alphabet") is False
assert is_isogram("six-year-old") is True
""",
    ),
    _ex(
        "matrix_trace",
        "Please write `matrix_trace(m: list[list[float]]) -> float` that returns the sum of the main diagonal of a square matrix.",
        """
def matrix_trace(m: list[list[float]]) -> float:
    return sum(m[i][i] for i in range(len(m)))
""",
        """
assert matrix_trace([[1, 2], [3, 4]]) == 5
assert matrix_trace([[7]]) == 7
assert matrix_trace([]) == 0
""",
    ),
    _ex(
        "percent_change",
        "Write a Python function `percent_change(old: float, new: float) -> float` that returns the percentage change from old to new, rounded to two decimals; raise ValueError when old is 0.",
        """
def percent_change(old: float, new: float) -> float:
    if old == 0:
        raise ValueError("old value must not be zero")
    return round((new - old) / old * 100, 2)
""",
        """
assert percent_change(50, 75) == 50.0
assert percent_change(200, 150) == -25.0
try:
    percent_change(0, 1)
    raise AssertionError("expected ValueError")
except ValueError:
    pass
""",
    ),
    _ex(
        "average_word_length",
        "I need `average_word_length(s: str) -> float` in Python: the mean length of the whitespace-separated words, 0.0 when there are none.",
        """
def average_word_length(s: str) -> float:
    words = s.split()
    if not words:
        return 0.0
    return sum(len(w) for w in words) / len(words)
""",
        """
assert average_word_length("ab abcd") == 3.0
assert average_word_length("") == 0.0
assert average_word_length("hello") == 5.0
""",
    ),
    _ex(
        "run_length_decode",
        'Write `run_length_decode(s: str) -> str` that expands strings like "3a2b1c" into "aaabbc" (a count of one or more digits before each character).',
        """
def run_length_decode(s: str) -> str:
    out, count = [], ""
    for ch in s:
        if ch.isdigit():
            count += ch
        else:
            out.append(ch * int(count or "1"))
            count = ""
    return "".join(out)
""",
        """
assert run_length_decode("3a2b1c") == "aaabbc"
assert run_length_decode("12x") == "x" * 12
assert run_length_decode("") == ""
""",
    ),
    _ex(
        "pad_left",
        'Can you write a Python function `pad_left(s: str, width: int, fill: str = " ") -> str` that pads a string on the left to the given width (never truncating)?',
        """
def pad_left(s: str, width: int, fill: str = " ") -> str:
    return fill * max(0, width - len(s)) + s
""",
        """
assert pad_left("7", 3, "0") == "007"
assert pad_left("hello", 3) == "hello"
assert pad_left("", 2) == "  "
""",
    ),
    _ex(
        "count_islands",
        "Write `count_islands(grid: list[str]) -> int` in Python: the grid is rows of '#' (land) and '.' (water); count groups of land cells connected up, down, left or right.",
        """
def count_islands(grid: list[str]) -> int:
    seen = set()
    rows = len(grid)
    cols = len(grid[0]) if grid else 0
    islands = 0
    for r in range(rows):
        for c in range(cols):
            if grid[r][c] != "#" or (r, c) in seen:
                continue
            islands += 1
            stack = [(r, c)]
            seen.add((r, c))
            while stack:
                y, x = stack.pop()
                for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                    if 0 <= ny < rows and 0 <= nx < cols and grid[ny][nx] == "#" and (ny, nx) not in seen:
                        seen.add((ny, nx))
                        stack.append((ny, nx))
    return islands
""",
        """
assert count_islands(["#.#", "#..", "..#"]) == 3
assert count_islands(["###", "###"]) == 1
assert count_islands([]) == 0
""",
    ),
    _ex(
        "safe_divide",
        "Please write `safe_divide(a: float, b: float, default: float = 0.0) -> float` that returns a / b, or `default` when b is zero.",
        """
def safe_divide(a: float, b: float, default: float = 0.0) -> float:
    return default if b == 0 else a / b
""",
        """
assert safe_divide(10, 4) == 2.5
assert safe_divide(1, 0) == 0.0
assert safe_divide(1, 0, default=-1) == -1
""",
    ),
    _ex(
        "histogram_bins",
        "Write a Python function `histogram_bins(values: list[float], width: float) -> dict[float, int]` that counts values per bin, where a bin is keyed by its lower edge (value // width * width).",
        """
def histogram_bins(values: list[float], width: float) -> dict[float, int]:
    bins: dict[float, int] = {}
    for v in values:
        edge = v // width * width
        bins[edge] = bins.get(edge, 0) + 1
    return bins
""",
        """
assert histogram_bins([1, 2, 11, 19, 20], 10) == {0: 2, 10: 2, 20: 1}
assert histogram_bins([], 5) == {}
""",
    ),
    _ex(
        "mode",
        "I need `mode(values: list) -> object` in Python returning the most common element of a non-empty list (the one that appears first on ties).",
        """
def mode(values: list) -> object:
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    best = max(counts.values())
    for v in values:
        if counts[v] == best:
            return v
""",
        """
assert mode([1, 2, 2, 3]) == 2
assert mode(["a", "b", "a", "b"]) == "a"
assert mode([9]) == 9
""",
    ),
    _ex(
        "pairwise_differences",
        "Can you write `pairwise_differences(nums: list[int]) -> list[int]` that returns the differences between consecutive elements (next minus previous)?",
        """
def pairwise_differences(nums: list[int]) -> list[int]:
    return [b - a for a, b in zip(nums, nums[1:])]
""",
        """
assert pairwise_differences([1, 4, 9]) == [3, 5]
assert pairwise_differences([5]) == []
assert pairwise_differences([3, 1]) == [-2]
""",
    ),
    _ex(
        "strip_comments",
        "Write a Python function `strip_comments(code: str) -> str` that removes everything from a '#' to the end of each line and also drops trailing spaces left behind (ignore '#' inside strings for simplicity).",
        """
def strip_comments(code: str) -> str:
    return "\\n".join(line.split("#", 1)[0].rstrip() for line in code.split("\\n"))
""",
        """
assert strip_comments("x = 1  # one\\ny = 2") == "x = 1\\ny = 2"
assert strip_comments("# only") == ""
""",
    ),
    _ex(
        "sum_of_squares",
        "Please write `sum_of_squares(n: int) -> int` returning 1² + 2² + ... + n² (0 for n <= 0).",
        """
def sum_of_squares(n: int) -> int:
    return sum(k * k for k in range(1, n + 1))
""",
        """
assert sum_of_squares(3) == 14
assert sum_of_squares(0) == 0
assert sum_of_squares(-2) == 0
""",
    ),
)
