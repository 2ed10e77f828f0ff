"""Parser → a faster LALR loop over lark's own tables, lexer and callbacks; gives up on any mistake so that lark's loop reports it."""
from __future__ import annotations

import functools
import itertools
from typing import Any, Callable, Iterator

from lark import Lark, Token

from netspec.syntax.reductions import Built, RulePlan, ast_builder


@functools.lru_cache(maxsize=1)
def fast_parser(lark: Lark) -> FastLoop | None:
    """The fast loop over `lark`, or None if this lark's internals are not the ones it reads
    (lark's own loop then parses everything: slower, never wrong)."""
    try:
        return FastLoop(lark)
    except Exception:  # noqa: BLE001 - any change inside lark: fall back to its public loop
        return None


END = Token("$END", "")  # the end of input, as the parse table names it

COMPILE_AFTER = 200  # reductions of a rule by its general callback before the fast loop compiles one


class FastLoop:
    """lark's LALR loop over lark's own tables, lexer and callbacks, specialized for speed.

    lark's `ParserState.feed_token` is generic: per reduction it compares and hashes a rule
    object (Python-level `__eq__`/`__hash__`) and calls a callback even for rules that only
    pass their one child through (`?sum: product`: about half of all reductions). Here each
    state's actions are compiled once into shift targets or (size, callback, goto symbol),
    with pass-through rules as no callback at all and each other rule's callback written out
    for that rule (`compiled_callback`). Tokens come from `tokens`, lark's lexer and our
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
                        passes = RulePlan(arg, self.placeholders).passes_through
                        stand_ins[arg] = None if passes else self._compile_when_used(arg, callbacks[arg])
                    compiled[symbol] = (len(arg.expansion), stand_ins[arg], arg.origin.name)
                    if stand_ins[arg] is not None:
                        self.reductions.setdefault(arg, []).append((compiled, symbol))
            self.actions[state] = compiled
        self.state_lexers = self.frontend.lexer.lexer.lexers  # the contextual lexer's, per parser state
        self.indenter = self.frontend.lexer.postlexer  # the parser's `_SpecIndenter`: `tokens` does its work, with its settings
        self.scanners: dict[int, tuple] = {}  # per parser state, filled as states are reached (lark builds scanners lazily)

    def _compile_when_used(self, rule, general: Callable[[list], Built]) -> Callable[[list], Built]:
        """A stand-in that reduces with the rule's general callback until the rule has been
        reduced COMPILE_AFTER times, then puts the rule's compiled callback in its place.
        Compiling one takes about 70 µs, what 200 reductions save; a small spec reduces
        most rules a few times only (compiling at the first reduction made `check
        resnet50.net` 5 ms slower)."""
        reductions = 0

        def stand_in(children: list) -> Built:
            nonlocal reductions
            reductions += 1
            if reductions < COMPILE_AFTER:
                return general(children)
            callback = compiled_callback(rule, self.placeholders)
            for row, symbol in self.reductions[rule]:
                row[symbol] = (row[symbol][0], callback, row[symbol][2])
            return callback(children)

        return stand_in

    def parse(self, text: str) -> Any:
        states: list = [self.conf.start_state]
        values: list = []
        actions, token_callbacks, end_state = self.actions, self.token_callbacks, self.end_state
        try:
            # the end of input is one more token: reducing on it reaches the end state (accept);
            # any other outcome (an error, or a shift of `$END`) falls out of the loop below
            for token in itertools.chain(self.tokens(text, states), (END,)):
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
                    if states[-1] == end_state and kind == "$END":  # accept, as lark does
                        return values[-1]
            return None
        except Exception:  # noqa: BLE001 - any mistake: lark's loop parses again and raises its own error
            return None

    def tokens(self, text: str, states: list) -> Iterator[Token]:
        """lark's contextual lexer followed by the parser's indenter (`_SpecIndenter`), as one
        generator: the same tokens (types, values, positions), with the lexer chosen by the parser's
        state when each token is lexed, as lark's is. Stacking lark's generators and per-token method calls cost about a
        fifth of a parse. On text either of them would reject it raises, and the parse gives up."""
        state_lexers, scanners = self.state_lexers, self.scanners
        new_string = str.__new__
        indenter = self.indenter
        nl_type, tab_len = indenter.NL_type, indenter.tab_len
        indent_type, dedent_type = indenter.INDENT_type, indenter.DEDENT_type
        opening, closing = indenter.OPEN_PAREN_types, indenter.CLOSE_PAREN_types
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
                        yield Token.new_borrow_pos(indent_type, indent_text, token)
                    else:
                        while indent < indent_levels[-1]:
                            indent_levels.pop()
                            yield Token.new_borrow_pos(dedent_type, indent_text, token)
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
            yield (Token.new_borrow_pos(dedent_type, "", token) if token
                   else Token(dedent_type, "", 0, 0, 0, 0, 0, 0))


class _GiveUp(Exception):
    """The fast loop met something it leaves to lark's loop (which then raises the error)."""


def compiled_callback(rule, placeholders: bool) -> Callable[[list], Built] | None:
    """The parser's general callback (`_rule_callback`) written out for this one rule, for the
    fast loop (None for a pass-through rule). What the general callback finds by looping over its
    children at every reduction is known here from the rule: which children are tokens (always
    positioned), which are dropped, where Nones go. Straight-line code saves about a third of a
    reduction. `tests/test_parser_loop.py` checks it against the general one, which lark's loop
    uses."""
    plan = RulePlan(rule, placeholders)
    if plan.passes_through:
        return None
    size = len(plan.terminals)

    def positioned(index: int) -> str:  # a token, or a rule's result that matched some text
        return "True" if plan.terminals[index] else f"c{index}.line is not None or c{index}.__class__ is not Built"

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
            value = f"c{index}" if plan.terminals[index] else f"(c{index}.value if c{index}.__class__ is Built else c{index})"
            lines.append(f"    values = [{value}]" if first else f"    values.append({value})")
        first = False
    if first:
        lines.append("    values = []")
    if plan.trailing:
        lines.append(f"    values += [None] * {plan.trailing}")
    if plan.helper:
        lines.append("    return Built(values, line, column, end_line, end_column)")
    else:
        if plan.inline_single:
            lines.append("    if len(values) == 1:\n        return Built(values[0], line, column, end_line, end_column)")
        lines.append("    built = Built(None, line, column, end_line, end_column)")
        lines.append(f"    built.value = getattr(ast_builder.get(), {plan.method!r})(built, values)")
        lines.append("    return built")
    namespace = {"Built": Built, "ast_builder": ast_builder}
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

