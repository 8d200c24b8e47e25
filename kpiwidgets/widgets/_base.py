"""``KPIWidget``: the one lifecycle every kpiwidgets widget follows.

::

    settings (traitlets tagged setting=True)   <- controls, Python attributes, constructor, URL
       | REFRESH maps each setting to the parts it refreshes ("compute" first, if named)
       v
    compute()  -> result (the frame drawn, from the widget's headless session in metrics/)
       v
    draw(parts) -> charts;  status_text() -> the status line;  errors shown in place

A subclass declares its settings, its ``REFRESH`` map and its hooks (``layout``,
``compute``, ``draw``, ``status_text``); the base owns the page frame, the control links,
the unknown-keyword check, re-entrancy, ``status``, ``error``, ``busy`` and ``settings``.
"""

from __future__ import annotations

import html
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import ipywidgets as widgets
import traitlets

from kpiwidgets.widgets._parts import STYLES, rows_left_out

__all__ = ["COMPUTE", "Frame", "KPIWidget"]

log = logging.getLogger("kpiwidgets")

COMPUTE = "compute"
"""The part name that makes a refresh call :meth:`KPIWidget.compute` before drawing."""
_TAGS = re.compile(r"<[^>]+>")


class Frame(traitlets.Any):
    """A trait holding a dataframe: a change is a new object, never ``old == new`` (which a
    frame answers elementwise, and polars with a warning)."""

    def set(self, obj: traitlets.HasTraits, value: Any) -> None:
        new = self._validate(obj, value)
        old = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new
        if old is not new:
            obj._notify_trait(self.name, old, new)


class KPIWidget(widgets.VBox):
    """Base of the kpiwidgets widgets: settings in, ``result`` and charts out.

    **Settings** are the traitlets a subclass tags with ``setting=True``; ``settings`` holds
    their current values, and ``type(w)(data, **w.settings)`` rebuilds the same view (deep
    links use it). ``REFRESH`` maps each setting to the parts of the widget it refreshes:
    ``"compute"`` (a new ``result`` from the headless session) and/or parts that only redraw.

    **One policy for bad settings**, whichever way a setting arrives:

    * A value outside a setting's choices, or of the wrong type (``explorer.order =
      "bogus"``), raises ``traitlets.TraitError`` at once, from the constructor or the
      attribute, as every ipywidgets widget does; nothing changes. Controls offer only valid
      choices, so they never produce one.
    * A value of the right kind that is wrong for the data (a step the event log does not
      have, a breakdown value that does not exist, a window that does not parse, an empty
      range) is shown inside the widget (:attr:`error`, the red box), which keeps its last
      good drawing; set a good value and it recovers. Nothing is raised into the notebook or
      the Voila page.
    * Unknown keyword arguments raise ``TypeError`` naming the settings there are.
    * Values from a URL never raise: :meth:`apply_settings` keeps the known settings whose
      values are valid and returns what it ignored, for the page to say so.

    Attributes (traitlets): ``result`` (the frame drawn), ``status`` (the status line as
    text), ``error`` (the message shown, or ""), ``busy``, ``settings``,
    ``last_update_seconds``. ``controls`` maps setting names to their control widgets (set a
    control's ``value`` to act as a person would); ``parts`` maps names to the widgets that
    show results (``"status"``, ``"error"``, charts, tables), to read what the page shows.
    """

    REFRESH: ClassVar[dict[str, tuple[str, ...]]] = {}

    result = Frame(None, help="The frame the widget currently draws.")
    status = traitlets.Unicode("", help="The status line, as plain text.")
    error = traitlets.Unicode("", help="The message shown for the last failed update, or ''.")
    busy = traitlets.Bool(False, help="True while a recomputation runs.")
    settings = traitlets.Dict(help="The current settings: type(w)(data, **w.settings).")
    last_update_seconds = traitlets.Float(0.0, help="Wall time of the last update.")

    def __init__(self, **settings: Any) -> None:
        names = self.setting_names()
        unknown = sorted(set(settings) - set(names))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s) "
                f"{', '.join(map(repr, unknown))}; its settings are: {', '.join(names)}"
            )
        self._holding = 0
        self._started = False
        # The error of the last failed compute: a later redraw-only refresh (a change that
        # recomputes nothing) draws the last good result and must keep saying it.
        self._compute_error: BaseException | None = None
        self._last_error: BaseException | None = None
        self.changed: set[str] = set(settings)
        self.controls: dict[str, widgets.Widget] = {}
        self.parts: dict[str, widgets.Widget] = {}
        # Table styles for every kpiwidgets widget on the page (a <style> in an HTML widget
        # applies page-wide; the rules only match kpiwidgets' own classes).
        self._styles = widgets.HTML(STYLES, layout=widgets.Layout(display="none"))
        self._status_line = widgets.HTML(layout=widgets.Layout(min_height="1.6em"))
        self._status_line.add_class("kpi-status")
        self._error_box = widgets.HTML(layout=widgets.Layout(display="none"))
        self._error_box.add_class("kpi-error")
        self.parts.update(status=self._status_line, error=self._error_box)
        super().__init__()
        self.add_class("kpi-widget")
        with self.hold():
            for name, value in settings.items():
                setattr(self, name, value)  # a value outside its choices raises TraitError
            self.adjust(set(settings))
        controls, body = self.layout()
        self.children = [
            self._styles,
            *controls,
            self._status_line,
            self._error_box,
            *body,
        ]
        self.observe(self._on_setting, names=list(self.REFRESH))
        self._started = True
        self.refresh((COMPUTE, *self.all_parts()), changed=set(settings))

    # -- what a subclass provides ---------------------------------------------------------
    def layout(self) -> tuple[list[widgets.Widget], list[widgets.Widget]]:
        """(rows of controls above the status line, the body below the error box)."""
        return [], []

    def compute(self) -> None:
        """Set ``result`` from the headless session for the current settings."""

    def draw(self, parts: set[str]) -> None:
        """Redraw ``parts`` (names used in ``REFRESH``) from ``result``."""

    def status_text(self) -> str:
        """The status line as HTML (user text escaped)."""
        return ""

    def adjust(self, changed: set[str]) -> None:
        """Called when the settings ``changed`` were set (one by an attribute or a control,
        several by the constructor or :meth:`apply_settings`), before the refresh: make
        dependent settings agree (inside :meth:`hold`, so those changes trigger nothing).
        ``self.changed`` holds the same names while the refresh runs, so hooks can tell a
        setting the user just set from one carried over."""

    # -- the lifecycle ----------------------------------------------------------------------
    @classmethod
    def setting_names(cls) -> list[str]:
        """Names of the settings (traitlets tagged ``setting=True``), in declaration order."""
        tagged = set(cls.class_trait_names(setting=True))
        ordered = [n for klass in reversed(cls.__mro__) for n in vars(klass) if n in tagged]
        return list(dict.fromkeys(ordered))

    def all_parts(self) -> list[str]:
        return sorted({p for parts in self.REFRESH.values() for p in parts} - {COMPUTE})

    @property
    def holding(self) -> bool:
        """True inside :meth:`hold` (and while a refresh runs): setting changes refresh nothing."""
        return bool(self._holding)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Change settings without each change triggering its own refresh."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1

    def _on_setting(self, change: dict[str, Any]) -> None:
        if self._holding or not self._started:
            return
        name = change["name"]
        with self.hold():
            self.adjust({name})
        self.refresh(self.REFRESH[name], changed={name})

    def refresh(self, parts: Iterable[str], *, changed: Iterable[str] = ()) -> bool:
        """Recompute (if ``"compute"`` is among ``parts``) and redraw; errors shown in place.

        ``changed`` names the settings the user just set (``self.changed`` while it runs).
        """
        wanted = set(parts)
        self.changed = set(changed)

        def work() -> str:
            with self.hold():
                if COMPUTE in wanted:
                    self.compute()
                self.draw(wanted - {COMPUTE})
            return self.status_text()

        done = self._update(work)
        if COMPUTE in wanted:
            self._compute_error = None if done else self._last_error
        elif done and self._compute_error is not None:
            self._show_error(self._compute_error)
        self.changed = set()
        self.settings = {name: getattr(self, name) for name in self.setting_names()}
        return done

    def apply_settings(self, values: dict[str, Any]) -> list[str]:
        """Set the known settings whose values are valid, at once; never raises.

        Returns one line per value ignored (unknown name, or a value outside its choices),
        for the caller to show. Values wrong for the data show in the widget as usual.
        """
        ignored: list[str] = []
        applied: set[str] = set()
        names = set(self.setting_names())
        with self.hold():
            for name, value in values.items():
                if name not in names:
                    ignored.append(f"{name}: not a setting of {type(self).__name__}")
                    continue
                try:
                    setattr(self, name, value)
                except (traitlets.TraitError, TypeError, ValueError) as exc:
                    ignored.append(f"{name}={value!r}: {exc}")
                else:
                    applied.add(name)
            self.adjust(applied)
        self.refresh((COMPUTE, *self.all_parts()), changed=applied)
        return ignored

    def link(
        self,
        control: widgets.Widget,
        name: str,
        *,
        to_control: Callable[[Any], Any] | None = None,
        from_control: Callable[[Any], Any] | None = None,
    ) -> widgets.Widget:
        """Two-way link between ``control.value`` and setting ``name``.

        ``from_control`` turns a control value into the setting's value; ``to_control`` the
        reverse, returning ``control.value`` unchanged when the control cannot show a value
        (the widget then shows the problem instead of the control raising).
        """
        self.controls[name] = control
        control.add_class(f"kpi-control-{name.replace('_', '-')}")
        syncing = [False]

        def on_control(change: dict[str, Any]) -> None:
            if not syncing[0]:
                setattr(self, name, from_control(change["new"]) if from_control else change["new"])

        def on_setting(change: dict[str, Any]) -> None:
            shown = to_control(change["new"]) if to_control else change["new"]
            syncing[0] = True
            try:
                control.value = shown
            except traitlets.TraitError:
                pass  # a value the control cannot show: the widget says what is wrong
            finally:
                syncing[0] = False

        on_setting({"new": getattr(self, name)})
        control.observe(on_control, "value")
        self.observe(on_setting, name)
        return control

    # -- update, busy state, errors ---------------------------------------------------------
    def _update(self, work: Callable[[], str | None], *, busy_label: str = "Computing…") -> bool:
        """Run ``work`` showing a busy state; show its error in the widget if it fails.

        ``work`` returns the status text to show (or None). Returns True on success.
        """
        started = time.perf_counter()
        # Rows a metric leaves out are said in the status line, not as warnings in the page.
        with self._busy(busy_label), rows_left_out():
            try:
                status = work()
            except Exception as exc:
                log.debug("kpiwidgets update failed\n%s", traceback.format_exc())
                self._last_error = exc
                self._show_error(exc)
                return False
        self.last_update_seconds = time.perf_counter() - started
        self._clear_error()
        if status is not None:
            self._status_line.value = status
            self.status = html.unescape(_TAGS.sub(" ", status.replace("<br>", " · ")))
            self.status = " ".join(self.status.split())
        return True

    @contextmanager
    def _busy(self, label: str) -> Iterator[None]:
        self.busy = True
        self.add_class("kpi-busy")
        previous = self._status_line.value
        self._status_line.value = f'<span class="kpi-busy-label">{html.escape(label)}</span>'
        try:
            yield
        finally:
            self.busy = False
            self.remove_class("kpi-busy")
            if self._status_line.value.startswith('<span class="kpi-busy-label">'):
                self._status_line.value = previous

    def _show_error(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        self.error = message
        self._error_box.value = (
            '<div style="border-left:4px solid #c0392b;background:#fdecea;padding:6px 10px;'
            'margin:4px 0;white-space:pre-wrap;font-family:var(--jp-ui-font-family)">'
            f"<b>Could not update:</b> {html.escape(message)}</div>"
        )
        self._error_box.layout.display = ""

    def _clear_error(self) -> None:
        self.error = ""
        self._error_box.value = ""
        self._error_box.layout.display = "none"
