import "./styles.css";
import { App } from "./app";
import { captureToken } from "./auth";

captureToken(); // first: the token leaves the address bar before anything else runs

const root = document.getElementById("app");
if (root) new App(root).start();
