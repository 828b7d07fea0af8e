// Debounce a function: call it once the calls stop for `wait` ms.
export function debounce(fn, wait = 100) {
  let timer = null;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), wait);
  };
}

export class EventBus {
  constructor() {
    this.handlers = new Map();
  }

  on(name, handler) {
    const list = this.handlers.get(name) || [];
    list.push(handler);
    this.handlers.set(name, list);
    return () => this.off(name, handler);
  }

  off(name, handler) {
    const list = this.handlers.get(name) || [];
    this.handlers.set(name, list.filter((h) => h !== handler));
  }

  emit(name, payload) {
    for (const h of this.handlers.get(name) || []) {
      h(payload);
    }
  }
}
