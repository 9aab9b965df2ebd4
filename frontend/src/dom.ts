// A few DOM helpers: build elements, and change them only when a value actually differs.

type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  testid?: string;
  text?: string;
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.attrs) {
    for (const [k, v] of Object.entries(props.attrs)) {
      if (v === null || v === undefined || v === false) continue;
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  if (props.on) {
    for (const [k, fn] of Object.entries(props.on)) el.addEventListener(k, fn as EventListener);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
  return el;
}

export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function setAttr(el: Element, name: string, value: string | null): void {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

export function setHidden(el: HTMLElement, hidden: boolean): void {
  if (el.hidden !== hidden) el.hidden = hidden;
}

export function setClass(el: Element, name: string, on: boolean): void {
  if (el.classList.contains(name) !== on) el.classList.toggle(name, on);
}

/**
 * Make `parent`'s children exactly `wanted`, in order, moving as few nodes as possible.
 * A moved subtree loses focus in browsers; put it back (with the text selection) afterwards.
 */
export function reconcileChildren(parent: Element, wanted: readonly Element[]): void {
  const keep = new Set<Element>(wanted);
  for (const child of Array.from(parent.children)) if (!keep.has(child)) child.remove();
  const active = document.activeElement as HTMLElement | null;
  const hadFocusInside = active !== null && parent.contains(active) && active !== parent;
  let sel: [number | null, number | null] | null = null;
  if (hadFocusInside && (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement)) {
    try {
      sel = [active.selectionStart, active.selectionEnd];
    } catch {
      sel = null;
    }
  }
  let cursor: Element | null = parent.firstElementChild;
  for (const el of wanted) {
    if (el === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      parent.insertBefore(el, cursor);
    }
  }
  if (hadFocusInside && active && active.isConnected && document.activeElement !== active) {
    active.focus({ preventScroll: true });
    if (sel && (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement)) {
      try {
        active.setSelectionRange(sel[0], sel[1]);
      } catch {
        /* not a text input */
      }
    }
  }
}
