<?php

return require __DIR__."/../vendor/hyde/framework/src/bootstrap.php";
