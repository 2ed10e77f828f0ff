"""Text → AST: lark's LALR parser builds netspec.syntax.ast nodes as it reduces; no parse tree is made."""
from __future__ import annotations

import functools
from collections import OrderedDict
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator

from lark import Lark, Token, UnexpectedInput
from lark.indenter import DedentError, Indenter

from netspec.errors import Source, Span, SpecSyntaxError
from netspec.syntax import ast
from netspec.syntax.messages import point, syntax_error

GRAMMAR = Path(__file__).resolve().parent.parent / "grammar.lark"

class _SpecIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "CALLNAME"]
    CLOSE_PAREN_types = ["RPAR"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token):
        levels = list(self.indent_level)  # before this line pops any of them
        try:
            yield from super().handle_NL(token)
        except DedentError as error:
            raise _BadDedent(token, levels) from error


class _BadDedent(Exception):
    def __init__(self, token: Token, levels: list[int]):
        self.token = token
        self.levels = levels


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return _ReducingLark(
        GRAMMAR.read_text(),
        parser="lalr",
        postlex=_SpecIndenter(),
        maybe_placeholders=True,
        cache=True,
    )


@functools.lru_cache(maxsize=1)
def _fast_parser() -> "_FastLoop | None":
    """The fast loop, or None if this lark's internals are not the ones it reads (lark's own
    loop then parses everything: slower, never wrong)."""
    try:
        return _FastLoop(_lark())
    except Exception:  # noqa: BLE001 - any change inside lark: fall back to its public loop
        return None


COMPILE_AFTER = 200  # reductions of a rule by its general callback before the fast loop compiles one


class _FastLoop:
    """lark's LALR loop over lark's own tables, lexer and callbacks, specialized for speed.

    lark's `ParserState.feed_token` is generic: per reduction it compares and hashes a rule
    object (Python-level `__eq__`/`__hash__`) and calls a callback even for rules that only
    pass their one child through (`?sum: product`: about half of all reductions). Here each
    state's actions are compiled once into shift targets or (size, callback, goto symbol),
    with pass-through rules as no callback at all and each other rule's callback written out
    for that rule (`_compiled_callback`). Tokens come from `tokens`, lark's lexer and our
    indenter in one generator. It only parses: on any mistake in the text
    it returns None, and lark's own loop parses the text again to raise its exact error.
    """

    def __init__(self, lark: Lark):
        from lark.parsers.lalr_analysis import Shift
        from lark.parsers.lalr_parser_state import ParseConf

        self.frontend = lark.parser
        table = self.frontend.parser._parse_table
        callbacks = self.frontend.parser.parser.callbacks
        self.conf = ParseConf(table, callbacks, self.frontend._verify_start(None))
        self.end_state = self.conf.end_state
        self.token_callbacks = {name: callback for name, callback in callbacks.items() if isinstance(name, str)}
        self.placeholders = lark.options.maybe_placeholders
        self.actions: dict[Any, dict[str, Any]] = {}
        self.reductions: dict[Any, list[tuple[dict, str]]] = {}  # per rule: where its action is
        stand_ins: dict[Any, Any] = {}  # per rule: None for a pass-through rule
        for state, row in table.states.items():
            compiled: dict[str, Any] = {}
            for symbol, (action, arg) in row.items():
                if action is Shift:
                    compiled[symbol] = [arg]  # a list: a shift; a tuple: a reduction
                else:
                    if arg not in stand_ins:
                        passes = _RulePlan(arg, self.placeholders).passes_through
                        stand_ins[arg] = None if passes else self._compile_when_used(arg, callbacks[arg])
                    compiled[symbol] = (len(arg.expansion), stand_ins[arg], arg.origin.name)
                    if stand_ins[arg] is not None:
                        self.reductions.setdefault(arg, []).append((compiled, symbol))
            self.actions[state] = compiled
        self.state_lexers = self.frontend.lexer.lexer.lexers  # the contextual lexer's, per parser state
        self.scanners: dict[int, tuple] = {}  # per parser state, filled as states are reached (lark builds scanners lazily)

    def _compile_when_used(self, rule, general: Callable[[list], _Built]) -> Callable[[list], _Built]:
        """A stand-in that reduces with the rule's general callback until the rule has been
        reduced COMPILE_AFTER times, then puts the rule's compiled callback in its place.
        Compiling one takes about 70 µs, what 200 reductions save; a small spec reduces
        most rules a few times only (compiling at the first reduction made `check
        resnet50.net` 5 ms slower)."""
        reductions = 0

        def stand_in(children: list) -> _Built:
            nonlocal reductions
            reductions += 1
            if reductions < COMPILE_AFTER:
                return general(children)
            callback = _compiled_callback(rule, self.placeholders)
            for row, symbol in self.reductions[rule]:
                row[symbol] = (row[symbol][0], callback, row[symbol][2])
            return callback(children)

        return stand_in

    def parse(self, text: str) -> Any:
        states: list = [self.conf.start_state]
        values: list = []
        actions, token_callbacks = self.actions, self.token_callbacks
        token = None
        try:
            for token in self.tokens(text, states):
                kind = token.type
                while True:
                    action = actions[states[-1]][kind]
                    if action.__class__ is list:
                        states.append(action[0])
                        values.append(token_callbacks[kind](token) if kind in token_callbacks else token)
                        break
                    size, callback, goto = action
                    if callback is None:  # the child is the result: it stays where it is
                        del states[-1]
                    else:
                        if size:
                            children = values[-size:]
                            del values[-size:]
                            del states[-size:]
                        else:
                            children = []
                        values.append(callback(children))
                    states.append(actions[states[-1]][goto][0])
            while True:
                action = actions[states[-1]]["$END"]
                if action.__class__ is list:
                    return None
                size, callback, goto = action
                if callback is None:
                    del states[-1]
                else:
                    if size:
                        children = values[-size:]
                        del values[-size:]
                        del states[-size:]
                    else:
                        children = []
                    values.append(callback(children))
                states.append(actions[states[-1]][goto][0])
                if states[-1] == self.end_state:
                    return values[-1]
        except Exception:  # noqa: BLE001 - any mistake: lark's loop parses again and raises its own error
            return None

    def tokens(self, text: str, states: list) -> Iterator[Token]:
        """lark's contextual lexer followed by `_SpecIndenter`, as one generator: the same tokens
        (types, values, positions), with the lexer chosen by the parser's state when each token is
        lexed, as lark's is. Stacking lark's generators and per-token method calls cost about a
        fifth of a parse. On text either of them would reject it raises, and the parse gives up."""
        state_lexers, scanners = self.state_lexers, self.scanners
        new_string = str.__new__
        nl_type, tab_len = _SpecIndenter.NL_type, _SpecIndenter.tab_len
        opening, closing = _SpecIndenter.OPEN_PAREN_types, _SpecIndenter.CLOSE_PAREN_types
        indent_levels, paren_level = [0], 0
        position, line, line_start, end = 0, 1, 0, len(text)
        token = None
        while position < end:
            scanner = scanners.get(states[-1])
            if scanner is None:
                lexer = state_lexers[states[-1]]
                scanner = scanners[states[-1]] = (
                    lexer.scanner._mres, lexer.callback, lexer.ignore_types, lexer.newline_types)
            patterns, callbacks, ignored_kinds, newline_kinds = scanner
            for pattern in patterns:
                match = pattern.match(text, position)
                if match:
                    break
            else:
                raise _GiveUp
            value, kind = match.group(0), match.lastgroup
            ignored = kind in ignored_kinds
            start, column = position, position - line_start + 1
            if kind in newline_kinds:
                newlines = value.count("\n")
                if newlines:
                    line_start = position + value.rindex("\n") + 1
            else:
                newlines = 0
            position += len(value)
            if ignored and kind not in callbacks:
                if newlines:
                    line += newlines
                continue
            current = new_string(Token, value)  # what `Token(...)` does, without its argument juggling
            current.type, current.value, current.start_pos, current.line, current.column = kind, value, start, line, column
            if newlines:  # else `line` stays the same int object: the spans share it (10 MB on 100,000 lines)
                line += newlines
            current.end_line, current.end_column, current.end_pos = line, position - line_start + 1, position
            if kind in callbacks:
                current = callbacks[kind](current)
            if ignored:
                continue
            token = current
            kind = token.type
            if kind == nl_type:
                if paren_level == 0:
                    yield token
                    indent_text = token.rsplit("\n", 1)[1]
                    indent = indent_text.count(" ") + indent_text.count("\t") * tab_len
                    if indent > indent_levels[-1]:
                        indent_levels.append(indent)
                        yield Token.new_borrow_pos(_SpecIndenter.INDENT_type, indent_text, token)
                    else:
                        while indent < indent_levels[-1]:
                            indent_levels.pop()
                            yield Token.new_borrow_pos(_SpecIndenter.DEDENT_type, indent_text, token)
                        if indent != indent_levels[-1]:
                            raise _GiveUp
            else:
                yield token
            if kind in opening:
                paren_level += 1
            elif kind in closing:
                paren_level -= 1
                if paren_level < 0:
                    raise _GiveUp
        while len(indent_levels) > 1:
            indent_levels.pop()
            yield (Token.new_borrow_pos(_SpecIndenter.DEDENT_type, "", token) if token
                   else Token(_SpecIndenter.DEDENT_type, "", 0, 0, 0, 0, 0, 0))


class _GiveUp(Exception):
    """The fast loop met something it leaves to lark's loop (which then raises the error)."""


# Parses are cached in-process, keyed by the text itself and the name it is shown under: the
# AST depends on nothing else and is immutable, so a cached result can never be stale.
# Analysing variants of one spec (`--set`, a report of several networks, a benchmark's
# repeats) parses each file once. The cache keeps the most recent texts up to a total size.
CACHE_CHARACTERS = 4_000_000
_cache: OrderedDict[tuple[str, str], ast.Spec] = OrderedDict()


def parse(text: str, name: str = "<spec>") -> ast.Spec:
    """Parse one spec's text; raise SpecSyntaxError pointing at the first mistake."""
    key = (text, name)
    spec = _cache.get(key)
    if spec is not None:
        _cache.move_to_end(key)
        return spec
    spec = _parse(text, name)
    if len(text) <= CACHE_CHARACTERS:
        _cache[key] = spec
        while sum(len(t) for t, _ in _cache) > CACHE_CHARACTERS:
            _cache.popitem(last=False)
    return spec


def clear_cache() -> None:
    _cache.clear()


def _parse(text: str, name: str) -> ast.Spec:
    source = Source(name, text)
    padded = text if text.endswith("\n") else text + "\n"
    building = _builder.set(_ToAst(source))
    try:
        fast = _fast_parser()
        built = fast.parse(padded) if fast is not None else None
        if built is None:  # a mistake somewhere: lark's own loop parses again and says what it is
            built = _lark().parse(padded)
        return built.value
    except UnexpectedInput as error:
        raise syntax_error(source, error) from None
    except _BadDedent as bad:
        line = bad.token.end_line
        indent = len(source.line(line)) - len(source.line(line).lstrip())
        levels = " or ".join(map(str, sorted(set(bad.levels))))
        raise SpecSyntaxError(
            f"inconsistent indentation: this line is indented {indent} spaces, "
            f"but the enclosing blocks are indented {levels}",
            point(source, line, 1 + indent, max(1, len(source.line(line).strip()))),
        ) from None
    finally:
        _builder.reset(building)


def parse_file(path: str | Path, shown_as: str | None = None) -> ast.Spec:
    path = Path(path)
    name = shown_as or str(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        shown = Source(name, good + "\n")
        raise SpecSyntaxError(
            f"this file is not UTF-8 text: byte 0x{data[error.start]:02x} cannot be decoded", point(shown, line, column)
        ) from None
    return parse(text, name)


# ---- building the AST during the parse ---------------------------------------------
#
# lark's own tree builder makes a Tree per rule, computes positions on it, and a Transformer
# then walks the tree again. Here each grammar rule gets one callback, run as the LALR parser
# reduces it: it drops punctuation and splices lark's helper rules exactly as lark's child
# filter does, computes the rule's position exactly as lark's `propagate_positions` does
# (from the first and last of the rule's own tokens and sub-results, punctuation included),
# and calls the method of `_ToAst` named after the rule or its alias.


class _Built:
    """A rule's result on the parser's value stack, with the span of the text it covers."""

    __slots__ = ("value", "line", "column", "end_line", "end_column")

    def __init__(self, value: Any, line: int | None, column: int, end_line: int, end_column: int):
        self.value = value
        self.line = line  # None when the rule matched no text
        self.column = column
        self.end_line = end_line
        self.end_column = end_column


class _ReducingLark(Lark):
    """A LALR `Lark` whose reductions build netspec's AST directly (see `_rule_callback`)."""

    def _prepare_callbacks(self) -> None:
        self._callbacks = {rule: _rule_callback(rule, self.options.maybe_placeholders) for rule in self.rules}


_builder: ContextVar["_ToAst"] = ContextVar("netspec_ast_builder")  # the parse in progress, per thread


class _RulePlan:
    """What a rule's callback does with its children, worked out once from the rule."""

    def __init__(self, rule, placeholders: bool):
        expansion = rule.expansion
        empty = rule.options.empty_indices if placeholders else ()
        if empty:  # where `[x]` left out an optional part: how many Nones go before each symbol
            nones = [len(ones) for ones in "".join(str(int(b)) for b in empty).split("0")]
        else:
            nones = [0] * (len(expansion) + 1)
        keep_all = rule.options.keep_all_tokens
        self.terminals = [symbol.is_term for symbol in expansion]
        self.kept: list[tuple[int, bool, int]] = []  # (index, splice a helper rule's children, Nones before)
        pending = 0
        for index, symbol in enumerate(expansion):
            pending += nones[index]
            if keep_all or not (symbol.is_term and symbol.filter_out):
                self.kept.append((index, not symbol.is_term and symbol.name.startswith("_"), pending))
                pending = 0
        self.trailing = pending + nones[len(expansion)]
        self.helper = rule.origin.name.startswith("_")
        self.inline_single = bool(rule.options.expand1) and not rule.alias
        self.method = None if self.helper else rule.alias or rule.options.template_source or rule.origin.name
        self.passes_through = (  # `?sum: product` and the like: the child is the result, span and all
            self.inline_single and self.kept == [(0, False, 0)] and not self.trailing and len(expansion) == 1)


def _rule_callback(rule, placeholders: bool) -> Callable[[list], _Built]:
    plan = _RulePlan(rule, placeholders)
    if plan.passes_through:
        return _pass_through
    kept, trailing, helper, inline_single, method = plan.kept, plan.trailing, plan.helper, plan.inline_single, plan.method

    def callback(children: list) -> _Built:
        line = column = end_line = end_column = None
        for child in children:
            if child.__class__ is _Built:
                if child.line is not None:
                    line, column = child.line, child.column
                    break
            else:
                line, column = child.line, child.column
                break
        if line is not None:
            for child in reversed(children):
                if child.__class__ is _Built:
                    if child.line is not None:
                        end_line, end_column = child.end_line, child.end_column
                        break
                else:
                    end_line, end_column = child.end_line, child.end_column
                    break
        values: list = []
        for index, splice, add_none in kept:
            if add_none:
                values += [None] * add_none
            child = children[index]
            if splice:
                if values:
                    values += child.value
                else:  # left recursion: reuse the list (LALR never shares it)
                    values = child.value
            else:
                values.append(child.value if child.__class__ is _Built else child)
        if trailing:
            values += [None] * trailing
        if helper:
            return _Built(values, line, column, end_line, end_column)
        if inline_single and len(values) == 1:
            return _Built(values[0], line, column, end_line, end_column)
        built = _Built(None, line, column, end_line, end_column)
        built.value = getattr(_builder.get(), method)(built, values)
        return built

    return callback


def _pass_through(children: list) -> Any:
    return children[0]


def _compiled_callback(rule, placeholders: bool) -> Callable[[list], _Built] | None:
    """`_rule_callback`'s callback for the fast loop, written out for this one rule (None for a
    pass-through rule). What the general callback finds by looping over its children at every
    reduction is known here from the rule: which children are tokens (always positioned), which
    are dropped, where Nones go. Straight-line code saves about a third of a reduction.
    `tests/test_parser_loop.py` checks it against the general one, which lark's loop uses."""
    plan = _RulePlan(rule, placeholders)
    if plan.passes_through:
        return None
    size = len(plan.terminals)

    def positioned(index: int) -> str:  # a token, or a rule's result that matched some text
        return "True" if plan.terminals[index] else f"c{index}.line is not None or c{index}.__class__ is not _Built"

    lines = ["def callback(children):"]
    if size:
        lines.append(f"    {''.join(f'c{i}, ' for i in range(size))}= children")
    branches = [(positioned(i), f"line, column = c{i}.line, c{i}.column") for i in range(size)]
    branches += [("True", "line = column = None")]
    lines += _if_chain(branches)
    ends = [("line is None", "end_line = end_column = None")]
    ends += [(positioned(i), f"end_line, end_column = c{i}.end_line, c{i}.end_column") for i in reversed(range(size))]
    lines += _if_chain(ends + [("True", "end_line = end_column = None")])
    first = True
    for index, splice, add_none in plan.kept:
        if add_none:
            lines.append(f"    values {'=' if first else '+='} [None] * {add_none}")
            first = False
        if splice:
            if first:  # left recursion: reuse the list, as the general callback does
                lines.append(f"    values = c{index}.value")
            else:
                lines += ["    if values:", f"        values += c{index}.value", "    else:", f"        values = c{index}.value"]
        else:
            value = f"c{index}" if plan.terminals[index] else f"(c{index}.value if c{index}.__class__ is _Built else c{index})"
            lines.append(f"    values = [{value}]" if first else f"    values.append({value})")
        first = False
    if first:
        lines.append("    values = []")
    if plan.trailing:
        lines.append(f"    values += [None] * {plan.trailing}")
    if plan.helper:
        lines.append("    return _Built(values, line, column, end_line, end_column)")
    else:
        if plan.inline_single:
            lines.append("    if len(values) == 1:\n        return _Built(values[0], line, column, end_line, end_column)")
        lines.append("    built = _Built(None, line, column, end_line, end_column)")
        lines.append(f"    built.value = getattr(_builder.get(), {plan.method!r})(built, values)")
        lines.append("    return built")
    namespace = {"_Built": _Built, "_builder": _builder}
    exec("\n".join(lines) + "\n", namespace)  # noqa: S102 - made from the grammar's rule shapes only
    return namespace["callback"]


def _if_chain(branches: list[tuple[str, str]]) -> list[str]:
    """`if a: x / elif b: y / else: z` from (condition, statement) pairs, up to the first that always holds."""
    lines = []
    for condition, statement in branches:
        if condition == "True":
            lines += ["    else:", f"        {statement}"] if lines else [f"    {statement}"]
            break
        lines += [f"    {'elif' if lines else 'if'} {condition}:", f"        {statement}"]
    return lines


class _ToAst:
    """Purely structural: one method per grammar rule (or alias), called with the rule's span
    and its children; builds AST nodes with spans and never raises."""

    def __init__(self, source: Source):
        self.source = source

    def _span(self, meta) -> Span:
        return Span(self.source, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> Span:
        return Span(self.source, token.line, token.column, token.end_line, token.end_column)

    # ---- top level
    def start(self, meta, items):
        imports, networks, inputs, blocks, statements = [], [], [], [], []
        kinds = {ast.Import: imports, ast.NetworkDecl: networks, ast.InputDecl: inputs, ast.BlockDef: blocks}
        for item in items:  # one pass: a long spec has one item per line
            kinds.get(item.__class__, statements).append(item)
        whole = Span(self.source, 1, 1, max(1, len(self.source.text.splitlines())), 1)
        return ast.Spec(tuple(imports), tuple(networks), tuple(inputs), tuple(blocks), tuple(_flatten(statements)), whole)

    def import_stmt(self, meta, children):
        return ast.Import(children[0][1:-1], self._span(meta))

    def network_decl(self, meta, children):
        if len(children) == 1:
            return ast.NetworkDecl(str(children[0]), (), self._span(meta))
        head, params = children[0], children[1]
        return ast.NetworkDecl(str(head)[:-1], params or (), self._span(meta))

    def input_decl(self, meta, children):
        return ast.InputDecl(children[0], self._span(meta))

    def block_def(self, meta, children):
        kind, head, params, body = children
        header = Span(self.source, head.line, head.column, head.line, head.end_column - 1)  # the name, without '('
        return ast.BlockDef(str(head)[:-1], params or (), body, header, kind or "block")

    def block_kind(self, meta, children):
        return str(children[0])

    def params(self, meta, children):
        return tuple(c for c in children if c is not None)

    def param(self, meta, children):
        return ast.Param(str(children[0]), children[1], self._span(meta))

    # ---- statements
    def suite(self, meta, children):
        return tuple(_flatten(children))

    def simple_stmts(self, meta, children):
        return [c for c in children if c is not None]

    def chain(self, meta, children):
        stages, name = children
        return ast.Chain(stages, str(name) if name else None, self._span(meta), self._tok(name) if name else None)

    def assign(self, meta, children):
        name, stages = children
        chain = ast.Chain(stages, None, Span(self.source, stages[0].span.line, stages[0].span.column, stages[-1].span.end_line, stages[-1].span.end_column))
        return ast.Assign(str(name), chain, self._span(meta), self._tok(name))

    def output_stmt(self, meta, children):
        when = children[-1] if children and isinstance(children[-1], Token) else None
        values = tuple(c for c in children if c is not None and c is not when)
        return ast.Output(values, self._span(meta), str(when) if when else None, self._tok(when) if when else None)

    def pipeline(self, meta, children):
        return tuple(children)

    def word_call(self, meta, children):
        name, *args = children
        positional, keywords = _split_keywords(args)
        return ast.Call(str(name), positional, keywords, self._span(meta), self._tok(name), False)

    def paren_call(self, meta, children):
        return self.call(meta, children)

    def call(self, meta, children):
        head, arglist = children
        positional, keywords = _split_keywords(arglist or ())
        callee_span = Span(self.source, head.line, head.column, head.line, head.end_column - 1)
        return ast.Call(str(head)[:-1], positional, keywords, self._span(meta), callee_span, True)

    def arglist(self, meta, children):
        return tuple(c for c in children if c is not None)

    def kwarg(self, meta, children):
        return ast.Keyword(str(children[0]), children[1], self._span(meta))

    def repeat_stmt(self, meta, children):
        count, index, body = children
        return ast.Repeat(count, str(index) if index else None, body, self._span(meta))

    def residual_stmt(self, meta, children):
        when, body, shortcut = children
        if shortcut is None:
            return ast.Residual(body, None, None, when, self._span(meta), None)
        shortcut_when, shortcut_body, shortcut_span = shortcut
        return ast.Residual(body, shortcut_body, shortcut_when, when, self._span(meta), shortcut_span)

    def shortcut(self, meta, children):
        when, body = children
        return (when, body, self._span(meta))

    def merge_stmt(self, meta, children):
        merger, *branches = children
        return ast.Merge(
            merger, tuple(b[0] for b in branches), tuple(b[1] for b in branches), self._span(meta),
            tuple(b[2] for b in branches),
        )

    def branch(self, meta, children):
        inline, body = children
        return (body, self._span(meta), inline is not None)

    def inline(self, meta, children):
        return True

    def sequential_stmt(self, meta, children):
        name, body = children
        return ast.Sequential(str(name) if name else None, body, self._span(meta))

    def if_stmt(self, meta, children):
        condition, then, *elifs, otherwise = children
        otherwise_body = otherwise[1] if otherwise else ()
        for clause in reversed(elifs):  # elif chains nest as if/else
            _, cond, body, span = clause
            otherwise_body = (ast.If(cond, body, otherwise_body, span),)
        return ast.If(condition, then, otherwise_body, self._span(meta))

    def elif_clause(self, meta, children):
        return ("elif", children[0], children[1], self._span(meta))

    def else_clause(self, meta, children):
        return ("else", children[0])

    # ---- expressions
    def ternary(self, meta, children):
        then, condition, otherwise = children
        return ast.Ternary(then, condition, otherwise, self._span(meta))

    def or_(self, meta, children):
        return ast.Binary("or", children[0], children[1], self._span(meta))

    def and_(self, meta, children):
        return ast.Binary("and", children[0], children[1], self._span(meta))

    def not_(self, meta, children):
        return ast.Unary("not", children[0], self._span(meta))

    def neg(self, meta, children):
        return ast.Unary("-", children[0], self._span(meta))

    def compare(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, self._span(meta))

    def arith(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, self._span(meta))

    def getattr(self, meta, children):
        return ast.GetAttr(children[0], str(children[1]), self._span(meta))

    def number(self, meta, children):
        text = str(children[0])
        return ast.Number(int(text) if text.isdigit() else float(text), self._span(meta))

    def dims(self, meta, children):
        return ast.Dims(tuple(int(v) for v in str(children[0]).split("x")), self._span(meta))

    def string(self, meta, children):
        return ast.String(str(children[0])[1:-1], self._span(meta))

    def true(self, meta, children):
        return ast.Bool(True, self._span(meta))

    def false(self, meta, children):
        return ast.Bool(False, self._span(meta))

    def name(self, meta, children):
        return ast.Name(str(children[0]), self._span(meta))

    def tuple(self, meta, children):
        return ast.Tuple(tuple(c for c in children if c is not None), self._span(meta))


def _split_keywords(args) -> tuple[tuple, tuple[ast.Keyword, ...]]:
    """A call's arguments: (positional ones, keyword ones), each in order."""
    if not args:  # `relu`: most calls have no arguments at all
        return (), ()
    positional, keywords = [], []
    for arg in args:
        (keywords if arg.__class__ is ast.Keyword else positional).append(arg)
    return tuple(positional), tuple(keywords)


def _flatten(items) -> list:
    """Statements out of the nested lists and tuples of suites and `a; b` lines, Nones dropped."""
    flat = []
    for item in items:
        if isinstance(item, (list, tuple)):
            flat += _flatten(item)
        elif item is not None:
            flat.append(item)
    return flat
