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
