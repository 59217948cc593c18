/* opsperf: small behaviours on top of htmx. No dependencies.

   The appraisal form asks the server for a live preview as people type; the answer replaces
   score cells, computed values, conditional fields and the step buttons "out of band". A swap
   must never take away what someone is working in: an element holding the focus is left alone
   (so a button being pressed still gets its click), and values typed meanwhile are carried
   over into the fresh copy. An element the answer brings back unchanged is not replaced.

   The new API token's field selects itself when focused, to be copied; the sticky header's
   height is kept in --sticky-h. */
(function () {
  "use strict";

  function sameControl(fragment, old) {
    if (old.id) {
      return fragment.querySelector("#" + CSS.escape(old.id));
    }
    if (old.name && (old.type === "radio" || old.type === "checkbox")) {
      return fragment.querySelector(
        '[name="' + CSS.escape(old.name) + '"][value="' + CSS.escape(old.value) + '"]'
      );
    }
    return null;
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    var fragment = event.detail.fragment;
    var active = document.activeElement;
    if (active && active !== document.body && target.contains(active)) {
      event.preventDefault();
      return;
    }
    // Nothing changed: leave the element be, so that a live region (the total, the step
    // card) speaks only when something did.
    var fresh = fragment.firstElementChild;
    if (fresh && fragment.childElementCount === 1 && fresh.outerHTML === target.outerHTML) {
      event.preventDefault();
      return;
    }
    target.querySelectorAll("input, textarea, select").forEach(function (old) {
      var fresh = sameControl(fragment, old);
      if (!fresh) {
        return;
      }
      if (old.type === "radio" || old.type === "checkbox") {
        fresh.checked = old.checked;
      } else {
        fresh.value = old.value;
      }
    });
  });

  // The sticky header's height, for scroll-padding-top: whatever takes the focus scrolls
  // clear of it, however the header wraps (the CSS holds a fallback).
  function measureHeader() {
    var header = document.querySelector(".app-header");
    if (header) {
      document.documentElement.style.setProperty("--sticky-h", header.offsetHeight + "px");
    }
  }
  document.addEventListener("DOMContentLoaded", measureHeader);
  window.addEventListener("resize", measureHeader);

  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el instanceof HTMLInputElement && el.hasAttribute("data-select-on-focus")) {
      el.select();
    }
  });
})();

/* The comment box: "@" and the start of a name or employee number ask the server (htmx) for
   the people who may read the comment; choosing one (click, or Enter on it) writes the
   mention as @[name](u:id), which the page shows as the name. Arrow keys move through the
   list, Escape closes it. Without JavaScript the box is a plain text box. */
(function () {
  "use strict";

  var timer = null;

  function isBox(node) {
    return node && node.matches && node.matches("textarea[data-mentions]");
  }

  function mentionAt(box) {
    var before = box.value.slice(0, box.selectionStart);
    var found = /(^|\s)@([^\s@\[\]()]{0,30})$/.exec(before);
    return found ? { q: found[2], start: before.length - found[2].length - 1 } : null;
  }

  function listOf(box) {
    return document.getElementById(box.getAttribute("aria-controls"));
  }

  function close(box) {
    var list = listOf(box);
    if (list) {
      list.hidden = true;
      list.innerHTML = "";
    }
  }

  function ask(box) {
    var found = mentionAt(box);
    if (timer) {
      clearTimeout(timer);
    }
    if (!found) {
      close(box);
      return;
    }
    timer = setTimeout(function () {
      var url = box.getAttribute("data-mentions") + "?q=" + encodeURIComponent(found.q) +
        "&box=" + encodeURIComponent(box.id);
      var toggle = box.form && box.form.querySelector(".private-toggle");
      if (toggle && toggle.checked) {
        url += "&private=1";
      }
      if (box.getAttribute("data-parent")) {
        url += "&parent=" + encodeURIComponent(box.getAttribute("data-parent"));
      }
      htmx.ajax("GET", url, { target: listOf(box), swap: "innerHTML" });
    }, 150);
  }

  function choose(option) {
    var list = option.closest(".mention-options");
    var box = document.querySelector('textarea[aria-controls="' + CSS.escape(list.id) + '"]');
    if (!box) {
      return;
    }
    var found = mentionAt(box);
    var caret = box.selectionStart;
    var start = found ? found.start : caret;
    var text = option.getAttribute("data-mention") + " ";
    box.value = box.value.slice(0, start) + text + box.value.slice(caret);
    close(box);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
  }

  document.addEventListener("input", function (event) {
    if (isBox(event.target)) {
      ask(event.target);
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail.target;
    if (list && list.classList && list.classList.contains("mention-options")) {
      list.hidden = !list.children.length;
    }
  });

  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest(".mention-option");
    if (option) {
      event.preventDefault();
      choose(option);
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (isBox(target)) {
      var list = listOf(target);
      if (event.key === "ArrowDown" && list && !list.hidden) {
        var first = list.querySelector(".mention-option");
        if (first) {
          event.preventDefault();
          first.focus();
        }
      } else if (event.key === "Escape" && list && !list.hidden) {
        event.preventDefault();
        close(target);
      }
      return;
    }
    if (!target.classList || !target.classList.contains("mention-option")) {
      return;
    }
    var options = Array.prototype.slice.call(
      target.closest(".mention-options").querySelectorAll(".mention-option")
    );
    var index = options.indexOf(target);
    var owner = document.querySelector(
      'textarea[aria-controls="' + CSS.escape(target.closest(".mention-options").id) + '"]'
    );
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var next = options[index + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) {
        next.focus();
      } else if (owner) {
        owner.focus();
      }
    } else if (event.key === "Escape" && owner) {
      event.preventDefault();
      close(owner);
      owner.focus();
    }
  });
})();
