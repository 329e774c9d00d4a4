"""A tiny browser component that reports single-key presses (outside text fields) to Python."""

from __future__ import annotations

import param
from panel.custom import JSComponent


class KeyboardShortcuts(JSComponent):
    """Sends each plain key press on the page to Python as ``key`` and bumps ``presses``.

    Presses inside inputs, text areas, selects and editable elements, or with Ctrl/Alt/Meta held,
    are ignored, so typing a note never triggers a shortcut. Watch ``presses`` (not ``key``) to
    see repeated presses of the same key.
    """

    keys = param.List(default=[], item_type=str, doc="Keys reported; others are ignored.")
    key = param.String(default="", doc="Last key pressed.")
    presses = param.Integer(default=0, doc="Number of reported presses.")

    _esm = """
export function render({ model }) {
  const handler = (event) => {
    const target = event.composedPath()[0];
    const tag = (target && target.tagName) || "";
    const editable = target && target.isContentEditable;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || editable) return;
    if (event.ctrlKey || event.metaKey || event.altKey || !model.keys.includes(event.key)) return;
    event.preventDefault();
    model.key = event.key;
    model.presses = model.presses + 1;
  };
  document.addEventListener("keydown", handler);
  model.on("remove", () => document.removeEventListener("keydown", handler));
}
"""
