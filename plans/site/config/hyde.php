<?php

return [
    "name" => "Hyde Site",
];
