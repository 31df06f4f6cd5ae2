// Autohook web UI: context menus, repeatable form rows, running an
// automation from a record's menu, and pages that refresh themselves while
// runs are in flight. Every page works without this script; it only makes
// them nicer. No dependencies, no inline script (the CSP forbids it).
(function () {
  'use strict';

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  }

  // ---- Menus: right-click a row, or its "⋯" button; keyboard friendly.
  var openMenu = null;
  var openButton = null;

  function menuItems(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll('[role="menuitem"]'));
  }

  function closeMenu(refocus) {
    if (!openMenu) return;
    openMenu.hidden = true;
    openMenu.classList.remove('open');
    if (openButton) {
      openButton.setAttribute('aria-expanded', 'false');
      if (refocus) openButton.focus();
    }
    openMenu = null;
    openButton = null;
  }

  // showMenu opens menu at (x, y) in the viewport; alignRight puts its right
  // edge at x (under a button at the end of a row).
  function showMenu(menu, button, x, y, alignRight) {
    closeMenu(false);
    menu.hidden = false;
    menu.classList.add('open');
    openMenu = menu;
    openButton = button;
    if (button) button.setAttribute('aria-expanded', 'true');
    var r = menu.getBoundingClientRect();
    var vw = document.documentElement.clientWidth;
    var vh = document.documentElement.clientHeight;
    if (alignRight) x -= r.width;
    menu.style.left = Math.max(8, Math.min(x, vw - r.width - 8)) + 'px';
    menu.style.top = Math.max(8, Math.min(y, vh - r.height - 8)) + 'px';
    var first = menuItems(menu)[0];
    if (first) first.focus();
  }

  function openFromButton(button) {
    var menu = document.getElementById(button.getAttribute('aria-controls'));
    if (!menu) return;
    if (openMenu === menu) {
      closeMenu(true);
      return;
    }
    var r = button.getBoundingClientRect();
    showMenu(menu, button, r.right, r.bottom + 4, true);
  }

  document.addEventListener('contextmenu', function (e) {
    var row = e.target.closest('[data-menu-row]');
    if (!row) return;
    var menu = row.querySelector('.menu');
    var button = row.querySelector('.menu-btn');
    if (!menu) return;
    e.preventDefault();
    var x = e.clientX;
    var y = e.clientY;
    if (!x && !y && button) { // context-menu key: place it at the button
      var r = button.getBoundingClientRect();
      showMenu(menu, button, r.right, r.bottom + 4, true);
      return;
    }
    showMenu(menu, button, x, y, false);
  });

  document.addEventListener('keydown', function (e) {
    if (openMenu) {
      var items = menuItems(openMenu);
      var i = items.indexOf(document.activeElement);
      switch (e.key) {
        case 'ArrowDown':
          e.preventDefault();
          if (items.length) items[(i + 1) % items.length].focus();
          return;
        case 'ArrowUp':
          e.preventDefault();
          if (items.length) items[(i - 1 + items.length) % items.length].focus();
          return;
        case 'Home':
          e.preventDefault();
          if (items.length) items[0].focus();
          return;
        case 'End':
          e.preventDefault();
          if (items.length) items[items.length - 1].focus();
          return;
        case 'Escape':
          e.preventDefault();
          closeMenu(true);
          return;
        case 'Tab':
          closeMenu(false);
          return;
      }
    }
    var t = e.target;
    if (t.classList && t.classList.contains('menu-btn') && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      openFromButton(t);
    }
  });

  window.addEventListener('scroll', function () { closeMenu(false); }, true);

  // ---- Clicks: menus, and adding, moving and removing form rows.
  document.addEventListener('click', function (e) {
    var t = e.target;
    var btn = t.closest('.menu-btn');
    if (btn) {
      e.preventDefault();
      openFromButton(btn);
      return;
    }
    if (openMenu && !openMenu.contains(t)) closeMenu(false);

    var add = t.closest('[data-add]');
    if (add) {
      addRow(add);
      return;
    }
    var move = t.closest('[data-move]');
    if (move) {
      moveRow(move, parseInt(move.getAttribute('data-move'), 10));
      return;
    }
    var rm = t.closest('[data-remove]');
    if (rm) {
      removeRow(rm);
      return;
    }
    var close = t.closest('[data-dismiss]');
    if (close) {
      var toast = close.closest('.toast');
      if (toast) toast.remove();
    }
  });

  // renumber gives every input of a row form the name the server reads:
  // its data-field, prefixed by the list and index of each row around it
  // (steps.0.headers.1.value), and the matching id for labels and links.
  function renumber(form) {
    form.querySelectorAll('[data-field]').forEach(function (el) {
      var parts = [];
      if (el.getAttribute('data-field')) parts.push(el.getAttribute('data-field'));
      var item = el.closest('[data-item]');
      while (item && form.contains(item)) {
        var list = item.parentElement.closest('[data-list]');
        if (!list) break;
        var siblings = Array.prototype.filter.call(item.parentElement.children, function (c) {
          return c.hasAttribute('data-item');
        });
        parts.unshift(list.getAttribute('data-list') + '.' + siblings.indexOf(item));
        item = list.closest('[data-item]');
      }
      var name = parts.join('.');
      el.name = name;
      el.id = 'f-' + name;
    });
    form.querySelectorAll('.field > label[for]').forEach(function (label) {
      var input = label.parentElement.querySelector('[data-field]');
      if (input) label.htmlFor = input.id;
    });
  }

  function currentCollection(form) {
    var sel = form.querySelector('[data-collection]');
    return sel ? sel.value : '';
  }

  // suggest points inputs at the datalists of the chosen collection
  // (its fields, stages, date fields).
  function suggest(root, coll) {
    root.querySelectorAll('[data-suggest]').forEach(function (el) {
      el.setAttribute('list', 'dl-' + el.getAttribute('data-suggest') + '-' + coll);
    });
  }

  function addRow(button) {
    var tpl = document.getElementById(button.getAttribute('data-add'));
    var list = button.closest('[data-list]');
    var form = button.closest('form');
    if (!tpl || !list || !form) return;
    var items = list.querySelector(':scope > .items');
    var frag = tpl.content.cloneNode(true);
    var item = frag.querySelector('[data-item]');
    items.appendChild(frag);
    suggest(item, currentCollection(form));
    renumber(form);
    var first = item.querySelector('input:not([type="hidden"]), select, textarea');
    if (first) first.focus();
  }

  function moveRow(button, dir) {
    var item = button.closest('[data-item]');
    var form = button.closest('form');
    if (!item || !form) return;
    var other = dir < 0 ? item.previousElementSibling : item.nextElementSibling;
    while (other && !other.hasAttribute('data-item')) {
      other = dir < 0 ? other.previousElementSibling : other.nextElementSibling;
    }
    if (!other) return;
    if (dir < 0) item.parentElement.insertBefore(item, other);
    else item.parentElement.insertBefore(other, item);
    renumber(form);
    button.focus();
  }

  function removeRow(button) {
    var item = button.closest('[data-item]');
    var form = button.closest('form');
    if (!item || !form) return;
    var next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    renumber(form);
    var focus = next && next.querySelector('input, select, textarea');
    if (focus) focus.focus();
  }

  document.addEventListener('change', function (e) {
    if (e.target.matches('[data-collection]')) {
      suggest(e.target.form, e.target.value);
    }
  });

  // ---- Forms: confirmations, and running an automation from a menu.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    var msg = form.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      return;
    }
    if (form.hasAttribute('data-run')) {
      e.preventDefault();
      closeMenu(false);
      runFromMenu(form);
    }
  });

  function toast(title) {
    var box = document.getElementById('toasts');
    var el = document.createElement('div');
    el.className = 'toast';
    el.setAttribute('role', 'status');
    var head = document.createElement('p');
    head.className = 'toast-title';
    var strong = document.createElement('strong');
    strong.textContent = title;
    var badge = document.createElement('span');
    badge.className = 'badge badge-queued';
    badge.textContent = 'starting';
    head.appendChild(strong);
    head.appendChild(document.createTextNode(' '));
    head.appendChild(badge);
    var msg = document.createElement('p');
    msg.className = 'toast-msg';
    var link = document.createElement('a');
    link.textContent = 'View run';
    link.hidden = true;
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'toast-close';
    close.setAttribute('data-dismiss', '');
    close.setAttribute('aria-label', 'Dismiss');
    close.textContent = '×';
    el.appendChild(close);
    el.appendChild(head);
    el.appendChild(msg);
    el.appendChild(link);
    box.appendChild(el);
    return {
      el: el,
      set: function (status, text, url) {
        badge.className = 'badge badge-' + status;
        badge.textContent = status;
        msg.textContent = text || '';
        if (url) {
          link.href = url;
          link.hidden = false;
        }
      }
    };
  }

  function runFromMenu(form) {
    var button = form.querySelector('button');
    var name = button ? button.textContent.replace(/^\s*▶\s*/, '').trim() : 'Automation';
    var t = toast(name);
    fetch(form.action, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Accept': 'application/json',
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-CSRF-Token': csrf()
      },
      body: new URLSearchParams(new FormData(form))
    }).then(function (res) {
      return res.json().then(function (body) { return { ok: res.ok, body: body }; });
    }).then(function (r) {
      if (!r.ok) {
        t.set('failed', r.body.error || 'The automation did not run.');
        return;
      }
      t.set(r.body.status, progress(r.body.status), r.body.url);
      follow(r.body, t, 0);
    }).catch(function () {
      t.set('failed', 'Autohook could not be reached.');
    });
  }

  // progress says in words what the badge of a run in flight says.
  function progress(status) {
    switch (status) {
      case 'queued': return 'Queued: it starts in a moment…';
      case 'retrying': return 'Failed, will retry; see the run for details.';
      default: return 'Running…';
    }
  }

  // follow polls a run started from a menu until it finishes, then shows
  // the outcome and refreshes the records on the page.
  function follow(run, t, n) {
    if (run.finished) {
      var text = run.status === 'succeeded' ? 'Done.' : (run.error ? run.error.class + ': ' + run.error.message : 'The run ' + run.status + '.');
      // the records first (a step may have changed one), then the outcome
      refresh('records-live', function () { t.set(run.status, text, run.url); });
      return;
    }
    t.set(run.status, progress(run.status), run.url);
    if (n > 120 || run.status === 'retrying') return;
    setTimeout(function () {
      fetch(run.url + '/status', { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (next) { if (next) follow(next, t, n + 1); });
    }, 700);
  }

  // refresh replaces the element with id by the same element of a fresh
  // copy of this page, keeping <details> that were open; then it calls done
  // with the new element (null when there was nothing to refresh).
  function refresh(id, done) {
    done = done || function () {};
    var el = document.getElementById(id);
    if (!el) {
      done(null);
      return;
    }
    fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (res) { return res.ok && !res.redirected ? res.text() : null; })
      .then(function (html) {
        var next = html === null ? null : new DOMParser().parseFromString(html, 'text/html').getElementById(id);
        if (!next) {
          done(null);
          return;
        }
        var open = {};
        el.querySelectorAll('details[id]').forEach(function (d) { open[d.id] = d.open; });
        next = document.importNode(next, true);
        next.querySelectorAll('details[id]').forEach(function (d) {
          if (d.id in open) d.open = open[d.id];
        });
        if (openMenu && el.contains(openMenu)) closeMenu(false);
        el.replaceWith(next);
        done(next);
      })
      .catch(function () { done(null); });
  }

  // ---- Live pages: History and a run refresh every 2 s while a run on
  // them is queued, running or retrying, and stop when all are finished.
  function live() {
    var el = document.querySelector('[data-live]');
    if (!el || el.getAttribute('data-active') !== 'true') return;
    setTimeout(function () {
      if (openMenu) { live(); return; }
      refresh(el.id, function (next) { if (next) live(); });
    }, 2000);
  }

  function init() {
    document.querySelectorAll('form[data-rows]').forEach(function (form) {
      suggest(form, currentCollection(form));
    });
    live();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
